// Compiling the current spec, shared by the tabs that need instructions (testing and publishing
// compile first; an unchanged spec is answered from the compiler's reuse at once).
import { api, type Compilation, must } from "./api/client";

const latest = new Map<string, Compilation>();

export function lastCompilation(agentId: string): Compilation | undefined {
  return latest.get(agentId);
}

export async function compile(agentId: string): Promise<Compilation> {
  const path = { agent_id: agentId };
  const accepted = await must(api.POST("/api/v1/agents/{agent_id}/compilations", { params: { path } }));
  let compilation: Compilation;
  do {
    compilation = await must(
      api.GET("/api/v1/agents/{agent_id}/compilations/{compilation_id}", {
        params: { path: { ...path, compilation_id: accepted.id }, query: { wait: 20 } },
      }),
    );
  } while (compilation.status === "pending");
  latest.set(agentId, compilation);
  return compilation;
}
