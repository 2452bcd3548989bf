// This run beside the run behind the production version: which cases regressed (passed there,
// fail now) and which were fixed; the same comparison the publish gate makes.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type TestResult, type TestRun } from "../api/client";

interface Comparison {
  version: number;
  regressed: string[];
  fixed: string[];
}

/** Each case's verdict over its repeats: it passes only when every execution passed. */
function verdicts(results: TestResult[]): Map<string, { pass: boolean; label: string }> {
  const byCase = new Map<string, { pass: boolean; label: string }>();
  for (const r of results) {
    const before = byCase.get(r.test_case_id);
    const pass = !r.error && r.pass && (before?.pass ?? true);
    byCase.set(r.test_case_id, { pass, label: r.description || `Case ${r.case_index + 1}` });
  }
  return byCase;
}

async function compare(agentId: string, run: TestRun): Promise<Comparison | null> {
  const history = await api.GET("/api/v1/agents/{agent_id}/channels/{channel}/history", {
    params: { path: { agent_id: agentId, channel: "production" }, query: { limit: 1 } },
  });
  const version = history.data?.items[0]?.to_version;
  if (!version) return null;
  const published = await api.GET("/api/v1/agents/{agent_id}/versions/{number}", {
    params: { path: { agent_id: agentId, number: version } },
  });
  const behind = published.data?.test_run_id;
  if (!behind || behind === run.id) return null;
  const base = await api.GET("/api/v1/agents/{agent_id}/test-runs/{run_id}", {
    params: { path: { agent_id: agentId, run_id: behind }, query: { limit: 1000 } },
  });
  if (!base.data) return null;
  const then = verdicts(base.data.results);
  const now = verdicts(run.results);
  const regressed: string[] = [];
  const fixed: string[] = [];
  for (const [id, current] of now) {
    const before = then.get(id);
    if (before?.pass && !current.pass) regressed.push(current.label);
    if (before && !before.pass && current.pass) fixed.push(current.label);
  }
  return { version, regressed, fixed };
}

export function CompareWithProduction({ agentId, run }: { agentId: string; run: TestRun }): JSX.Element | null {
  const [comparison, setComparison] = useState<Comparison | null>(null);
  useEffect(() => {
    setComparison(null);
    void compare(agentId, run).then(setComparison);
  }, [agentId, run.id]);
  if (!comparison) return null;
  const { version, regressed, fixed } = comparison;
  return (
    <div class={regressed.length ? "notice" : ""} role="status">
      <strong>Compared with the run behind production (Version {version}):</strong>{" "}
      {regressed.length ? `${regressed.length} regressed: ${regressed.join(", ")}` : "nothing regressed"}
      {fixed.length ? `; ${fixed.length} fixed: ${fixed.join(", ")}` : ""}.
    </div>
  );
}
