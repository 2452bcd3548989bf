// Two versions side by side: the unified diff of their instructions and the spec, block by block.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { ErrorNote, useAction } from "../ui/common";

type VersionDiff = Schemas["VersionDiffPublic"];

function lineClass(line: string): string {
  if (line.startsWith("+") && !line.startsWith("+++")) return "added";
  if (line.startsWith("-") && !line.startsWith("---")) return "removed";
  return "";
}

export function Diff({ agentId, versions }: { agentId: string; versions: number[] }): JSX.Element {
  const sorted = [...versions].sort((a, b) => a - b);
  const [from, setFrom] = useState(sorted[sorted.length - 2] ?? 1);
  const [to, setTo] = useState(sorted[sorted.length - 1] ?? 1);
  const [diff, setDiff] = useState<VersionDiff | null>(null);
  const action = useAction();
  const compare = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      setDiff(
        await must(
          api.GET("/api/v1/agents/{agent_id}/versions/{a}/diff/{b}", { params: { path: { agent_id: agentId, a: from, b: to } } }),
        ),
      );
    });
  };
  const picker = (id: string, label: string, value: number, set: (n: number) => void) => (
    <div>
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => set(Number(e.currentTarget.value))}>
        {sorted.map((n) => (
          <option key={n} value={n}>
            Version {n}
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <section class="panel" aria-labelledby="diff-heading">
      <h2 id="diff-heading">Compare versions</h2>
      <form class="row" onSubmit={compare}>
        {picker("diff-from", "From", from, setFrom)}
        {picker("diff-to", "To", to, setTo)}
        <button type="submit" disabled={action.busy}>
          Compare
        </button>
      </form>
      <ErrorNote error={action.error} />
      {diff && (
        <div>
          <h3>Instructions</h3>
          {diff.instructions ? (
            <pre class="diff">
              {diff.instructions.split("\n").map((line, i) => (
                <span key={i} class={lineClass(line)}>
                  {line}
                  {"\n"}
                </span>
              ))}
            </pre>
          ) : (
            <p>The instructions are the same.</p>
          )}
          <h3>Specification</h3>
          {diff.spec.length === 0 && <p>The specifications are the same.</p>}
          <ul class="plain">
            {diff.spec.map((change) => (
              <li key={change.block}>
                <strong>{change.block}</strong> {change.change}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
