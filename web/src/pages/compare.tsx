// This run beside the run behind the production version: which cases regressed (passed there,
// fail now), were fixed, or kept their verdict. The gateway compares by the publish gate's rule.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, must, type Schemas, type TestRun } from "../api/client";
import { ErrorNote } from "../ui/common";

type Comparison = Schemas["TestRunComparisonPublic"];
type Compared = Schemas["ComparedCase"];

const label = (c: Compared): string => c.description || "a case without a description";

export function CompareWithProduction({ agentId, run }: { agentId: string; run: TestRun }): JSX.Element | null {
  const [comparison, setComparison] = useState<Comparison | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setComparison(null);
    setError(null);
    must(
      api.GET("/api/v1/agents/{agent_id}/test-runs/{run_id}/comparison", {
        params: { path: { agent_id: agentId, run_id: run.id } },
      }),
    ).then(setComparison, setError);
  }, [agentId, run.id]);
  if (error) return <ErrorNote error={error} />;
  if (!comparison || comparison.base_run_id === null || comparison.base_run_id === run.id) return null;
  const { production_version: version, regressed, fixed, unchanged } = comparison;
  return (
    <section class={`comparison${regressed.length ? " notice" : ""}`} aria-labelledby="comparison-heading">
      <h3 id="comparison-heading">Compared with the run behind production (Version {version})</h3>
      <p role="status">
        {regressed.length ? `${regressed.length} regressed: ${regressed.map(label).join(", ")}` : "nothing regressed"}
        {fixed.length ? `; ${fixed.length} fixed: ${fixed.map(label).join(", ")}` : ""}; {unchanged.length} unchanged.
      </p>
    </section>
  );
}
