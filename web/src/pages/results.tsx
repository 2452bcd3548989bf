// A run's results, failed / errored first, each with its output, the assertion that failed and
// why, latency and tokens; and the pass-rate trend across runs as a small chart.
import type { JSX } from "preact";
import type { TestResult, TestRun, TestRunSummary } from "../api/client";
import { percent } from "../ui/common";

/** Cases that both passed and failed over their repeats: flaky, shown before the passes. */
function flakyCases(results: TestResult[]): Set<string> {
  const seen = new Map<string, Set<boolean>>();
  for (const r of results) {
    if (r.error) continue;
    const verdicts = seen.get(r.test_case_id) ?? new Set<boolean>();
    verdicts.add(r.pass);
    seen.set(r.test_case_id, verdicts);
  }
  return new Set([...seen].filter(([, verdicts]) => verdicts.size > 1).map(([id]) => id));
}

export function Results({ run }: { run: TestRun }): JSX.Element {
  const flaky = flakyCases(run.results);
  const rank = (r: TestResult): number => (r.error ? 0 : !r.pass ? 1 : flaky.has(r.test_case_id) ? 2 : 3);
  const ordered = [...run.results].sort((a, b) => rank(a) - rank(b) || a.case_index - b.case_index);
  return (
    <ol class="plain results">
      {ordered.map((r) => {
        const verdict = r.error ? "errored" : r.pass ? "passed" : "failed";
        const failing = r.assertions.filter((a) => !a.pass);
        return (
          <li key={`${r.case_index}-${r.repeat_index}`} class={`result ${verdict}`}>
            <details open={verdict !== "passed"}>
              <summary>
                <span class="verdict">{verdict}</span> {r.description || `Case ${r.case_index + 1}`}
                {flaky.has(r.test_case_id) && <span class="badge warn"> flaky</span>}
                {r.offline && <span class="badge offline"> offline stand-in</span>}
                {run.repeat > 1 && ` (repeat ${r.repeat_index + 1})`}
              </summary>
              {r.offline && (
                <p class="notice">
                  Written by the offline stand-in, not by an AI model: no AI provider is configured, so
                  this verdict says nothing about the agent.
                </p>
              )}
              {r.error && <p class="error">{r.error}</p>}
              {failing.map((a, i) => (
                <p key={i}>
                  <code>{a.type}</code> failed: {a.error ?? a.reason}
                </p>
              ))}
              {r.output !== null && <pre>{r.output}</pre>}
              <p class="hint">
                {r.latency_ms !== null && `${Math.round(r.latency_ms)} ms · `}
                {r.tokens.prompt} prompt + {r.tokens.completion} completion tokens
                {r.cached && " · from the cache"}
              </p>
            </details>
          </li>
        );
      })}
    </ol>
  );
}

const WIDTH = 240;
const HEIGHT = 48;

export function Trend({ runs, onOpen }: { runs: TestRunSummary[]; onOpen: (id: string) => void }): JSX.Element | null {
  const rated = runs.filter((r) => r.pass_rate !== null).reverse();
  if (runs.length === 0) return null;
  const step = rated.length > 1 ? WIDTH / (rated.length - 1) : 0;
  const xy = rated.map((r, i) => [Math.round(i * step), Math.round(HEIGHT - (r.pass_rate ?? 0) * HEIGHT)] as const);
  const points = xy.map(([x, y]) => `${x},${y}`).join(" ");
  return (
    <section class="panel" aria-labelledby="trend-heading">
      <h2 id="trend-heading">Pass rate across runs</h2>
      {/* The chart is a picture of the table below it; the table is what assistive technology reads. */}
      {rated.length > 0 && (
        <svg class="trend" viewBox={`-4 -4 ${WIDTH + 8} ${HEIGHT + 8}`} aria-hidden="true" focusable="false">
          <polyline points={points} />
          {xy.map(([x, y], i) => (
            <circle key={i} cx={x} cy={y} r="3" />
          ))}
        </svg>
      )}
      <table class="runs">
        <caption class="visually-hidden">Pass rate of each run, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Pass rate</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>
                <button type="button" class="link" onClick={() => onOpen(r.id)}>
                  {new Date(r.created_at).toLocaleString()}
                </button>
              </td>
              <td>{percent(r.pass_rate)}</td>
              <td>{r.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
