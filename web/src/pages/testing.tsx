// The Testing tab: the cases, Run All Tests (compiling the saved spec first) with live progress
// from the run's event stream, the Pass Rate, failures first, the trend across runs, JUnit.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Agent, api, must, type TestCase, type TestRun, type TestRunSummary } from "../api/client";
import { compile } from "../compile";
import { ErrorNote, percent, Status, useAction } from "../ui/common";
import { Cases } from "./cases";
import { CompareWithProduction } from "./compare";
import { Results, Trend } from "./results";

interface Live {
  executed: number;
  executions: number;
  status: string;
}

export function TestingTab({ agent }: { agent: Agent }): JSX.Element {
  const [cases, setCases] = useState<TestCase[]>([]);
  const [runs, setRuns] = useState<TestRunSummary[]>([]);
  const [run, setRun] = useState<TestRun | null>(null);
  const [live, setLive] = useState<Live | null>(null);
  const [repeat, setRepeat] = useState(1);
  const [model, setModel] = useState("");
  const [current, setCurrent] = useState<string | null>(null);
  const loading = useAction();
  const running = useAction();
  const cancelling = useAction();
  const stream = useRef<EventSource | null>(null);
  const path = { agent_id: agent.id };

  const loadCases = (): Promise<void> =>
    loading.run(async () => {
      const page = await must(api.GET("/api/v1/agents/{agent_id}/test-cases", { params: { path, query: { limit: 500 } } }));
      setCases(page.items);
    });
  const loadRuns = async (): Promise<TestRunSummary[]> => {
    const page = await must(api.GET("/api/v1/agents/{agent_id}/test-runs", { params: { path, query: { limit: 20 } } }));
    setRuns(page.items);
    return page.items;
  };
  const open = async (runId: string): Promise<void> => {
    setRun(
      await must(
        api.GET("/api/v1/agents/{agent_id}/test-runs/{run_id}", {
          params: { path: { ...path, run_id: runId }, query: { limit: 1000 } },
        }),
      ),
    );
  };

  useEffect(() => {
    void loadCases();
    void loading.run(async () => {
      const items = await loadRuns();
      const finished = items.find((r) => r.status === "completed");
      if (finished) await open(finished.id);
    });
    return () => stream.current?.close();
  }, [agent.id]);

  const follow = (runId: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const source = new EventSource(`/api/v1/agents/${agent.id}/test-runs/${runId}/events`);
      stream.current = source;
      const update = (event: MessageEvent<string>): void => {
        const data = JSON.parse(event.data) as Live;
        setLive({ executed: data.executed, executions: data.executions, status: data.status });
      };
      source.addEventListener("snapshot", update);
      source.addEventListener("progress", update);
      for (const end of ["completed", "cancelled"]) {
        source.addEventListener(end, (event) => {
          update(event as MessageEvent<string>);
          source.close();
          resolve();
        });
      }
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) reject(new Error("the run's progress stream closed; reload to see where it got"));
      };
    });

  const runAll = (event: Event): void => {
    event.preventDefault();
    void running.run(async () => {
      setRun(null);
      setLive({ executed: 0, executions: 0, status: "compiling" });
      const compilation = await compile(agent.id);
      if (compilation.status !== "succeeded") throw new Error(`the specification does not compile: ${compilation.error ?? "unknown error"}`);
      const accepted = await must(
        api.POST("/api/v1/agents/{agent_id}/test-runs", {
          params: { path },
          body: { compilation_id: compilation.id, repeat, model: model.trim() || null },
        }),
      );
      setLive({ executed: 0, executions: 0, status: "queued" });
      setCurrent(accepted.id);
      try {
        await follow(accepted.id);
      } finally {
        setCurrent(null);
      }
      await open(accepted.id);
      await loadRuns();
      setLive(null);
    });
  };

  return (
    <div>
      <form class="panel run" onSubmit={runAll} aria-label="Run the tests">
        <div class="row">
          <div>
            <label for="run-repeat">Repeat each case</label>
            <input id="run-repeat" type="number" min={1} max={20} value={repeat} onInput={(e) => setRepeat(Number(e.currentTarget.value) || 1)} />
          </div>
          <div>
            <label for="run-model">Model (empty: the configured one)</label>
            <input id="run-model" value={model} maxLength={200} onInput={(e) => setModel(e.currentTarget.value)} />
          </div>
        </div>
        <button type="submit" disabled={running.busy || cases.length === 0}>
          {running.busy ? "Running…" : "Run All Tests"}
        </button>
        {cases.length === 0 && <span class="hint"> Add a test case first.</span>}
        {live && (
          <div class="progress">
            <label for="run-progress">
              {live.status === "compiling" ? "Compiling…" : `${live.executed} of ${live.executions || "?"} executions (${live.status})`}
            </label>
            <progress id="run-progress" max={live.executions || 1} value={live.executed} />
            {current && (
              <button
                type="button"
                class="secondary danger"
                disabled={cancelling.busy}
                onClick={() =>
                  void cancelling.run(async () => {
                    await must(
                      api.POST("/api/v1/agents/{agent_id}/test-runs/{run_id}/cancel", { params: { path: { ...path, run_id: current } } }),
                    );
                  })
                }
              >
                {cancelling.busy ? "Cancelling…" : "Cancel the run"}
              </button>
            )}
            <ErrorNote error={cancelling.error} />
          </div>
        )}
        <ErrorNote error={running.error} />
      </form>
      <ErrorNote error={loading.error} />
      {run && (
        <section aria-labelledby="run-heading" class="panel">
          <h2 id="run-heading">
            Pass Rate: <span class="pass-rate">{percent(run.pass_rate)}</span>
          </h2>
          <Status>
            {run.passed} passed, {run.failed} failed, {run.errored} errored, {run.flaky} flaky · {run.status}
          </Status>
          <a href={`/api/v1/agents/${agent.id}/test-runs/${run.id}/junit`} download={`run-${run.id}.xml`}>
            Download JUnit XML
          </a>
          <CompareWithProduction agentId={agent.id} run={run} />
          <Results run={run} />
        </section>
      )}
      <Trend runs={runs} onOpen={(id) => void loading.run(() => open(id))} />
      <Cases agentId={agent.id} cases={cases} onChanged={() => void loadCases()} />
    </div>
  );
}
