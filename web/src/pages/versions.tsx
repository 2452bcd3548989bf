// The Versions tab: publish behind the test gate (its verdict and reasons; a forced publish asks
// why), the numbered versions, a diff of any two, the production channel with promote and roll
// back and its history, and how to call the published agent.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Agent, api, type ChannelMove, must, type Schemas, type Version } from "../api/client";
import { compile } from "../compile";
import { CopyButton, ErrorNote, Status, useAction } from "../ui/common";
import { Diff } from "./diff";

const CHANNEL = "production";
type Publish = Schemas["PublishRequestPublic"];

export function VersionsTab({ agent }: { agent: Agent }): JSX.Element {
  const [versions, setVersions] = useState<Version[]>([]);
  const [history, setHistory] = useState<ChannelMove[]>([]);
  const loading = useAction();
  const moving = useAction();
  const path = { agent_id: agent.id };
  const production = history[0]?.to_version ?? null;

  const load = (): Promise<void> =>
    loading.run(async () => {
      const [page, moves] = await Promise.all([
        must(api.GET("/api/v1/agents/{agent_id}/versions", { params: { path, query: { limit: 50 } } })),
        must(
          api.GET("/api/v1/agents/{agent_id}/channels/{channel}/history", {
            params: { path: { ...path, channel: CHANNEL }, query: { limit: 20 } },
          }),
        ),
      ]);
      setVersions(page.items);
      setHistory(moves.items);
    });
  useEffect(() => void load(), [agent.id]);

  const move = (version: number, reason: string): Promise<void> =>
    moving.run(async () => {
      await must(
        api.PUT("/api/v1/agents/{agent_id}/channels/{channel}", {
          params: { path: { ...path, channel: CHANNEL } },
          body: { version, reason },
        }),
      );
      await load();
    });

  return (
    <div>
      <PublishForm agent={agent} onPublished={load} />
      <ErrorNote error={loading.error} />
      <section class="panel" aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        <Status>{production ? `Production serves Version ${production}.` : "Nothing is on production yet."}</Status>
        <ErrorNote error={moving.error} />
        {versions.length === 0 && <p>No version yet. Publish the first one above.</p>}
        <ul class="plain versions">
          {versions.map((v) => (
            <li key={v.number} class="version">
              <h3>Version {v.number}</h3>
              {v.number === production && <span class="badge">on production</span>}
              {v.forced && <span class="badge warn">forced: {v.force_reason}</span>}
              <p class="hint">
                {new Date(v.published_at).toLocaleString()} {v.notes && `· ${v.notes}`}
              </p>
              {v.number !== production && (
                <button type="button" class="secondary" disabled={moving.busy} onClick={() => move(v.number, production && v.number < production ? "roll back" : "promote")}>
                  {production && v.number < production ? `Roll production back to Version ${v.number}` : `Promote Version ${v.number} to production`}
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      {versions.length >= 2 && <Diff agentId={agent.id} versions={versions.map((v) => v.number)} />}
      <section class="panel" aria-labelledby="history-heading">
        <h2 id="history-heading">Production history</h2>
        <ol class="plain">
          {history.map((m) => (
            <li key={m.seq}>
              {new Date(m.moved_at).toLocaleString()}: {m.from_version ? `Version ${m.from_version} → ` : ""}Version {m.to_version}
              {m.reason && ` (${m.reason})`}
            </li>
          ))}
        </ol>
      </section>
      <Snippet agentId={agent.id} production={production} />
    </div>
  );
}

function PublishForm({ agent, onPublished }: { agent: Agent; onPublished: () => Promise<void> }): JSX.Element {
  const [notes, setNotes] = useState("");
  const [toProduction, setToProduction] = useState(true);
  const [refused, setRefused] = useState<Publish | null>(null);
  const [reason, setReason] = useState("");
  const [outcome, setOutcome] = useState<string | null>(null);
  const [names, setNames] = useState<Map<string, string>>(new Map());
  const action = useAction();
  const path = { agent_id: agent.id };

  const publish = (force: boolean) => (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      setOutcome(null);
      const runs = await must(api.GET("/api/v1/agents/{agent_id}/test-runs", { params: { path, query: { limit: 20 } } }));
      const tested = runs.items.find((r) => r.status === "completed");
      const compilationId = tested?.compilation_id ?? (await compile(agent.id)).id;
      const accepted = await must(
        api.POST("/api/v1/agents/{agent_id}/versions", {
          params: { path },
          body: {
            compilation_id: compilationId,
            test_run_id: tested?.id ?? null,
            notes,
            channel: toProduction ? CHANNEL : null,
            force,
            reason: force ? reason : null,
          },
        }),
      );
      let request: Publish;
      do {
        request = await must(
          api.GET("/api/v1/agents/{agent_id}/publishes/{request_id}", {
            params: { path: { ...path, request_id: accepted.id }, query: { wait: 20 } },
          }),
        );
      } while (request.status === "pending");
      if (request.status === "refused") {
        if (request.regressions.length) {
          const cases = await must(api.GET("/api/v1/agents/{agent_id}/test-cases", { params: { path, query: { limit: 500 } } }));
          setNames(new Map(cases.items.map((c) => [c.id, c.description || c.input.slice(0, 80)])));
        }
        setRefused(request);
        return;
      }
      setRefused(null);
      setReason("");
      setNotes("");
      setOutcome(`Published Version ${request.version}${toProduction ? ", now on production" : ""}.`);
      await onPublished();
    });
  };

  return (
    <section class="panel" aria-labelledby="publish-heading">
      <h2 id="publish-heading">Publish</h2>
      <p class="hint">
        Publishes the instructions of the latest completed test run, behind the test gate (pass rate at least{" "}
        {Math.round(agent.min_pass_rate * 100)}%, nothing that passed on production now failing).
      </p>
      <form onSubmit={publish(false)}>
        <label for="publish-notes">Notes (optional)</label>
        <input id="publish-notes" value={notes} maxLength={1000} onInput={(e) => setNotes(e.currentTarget.value)} />
        <label class="check">
          <input type="checkbox" checked={toProduction} onChange={(e) => setToProduction(e.currentTarget.checked)} /> Put it on
          production
        </label>
        <button type="submit" disabled={action.busy}>
          {action.busy ? "Publishing…" : "Publish"}
        </button>
      </form>
      <ErrorNote error={action.error} />
      {outcome && <Status>{outcome}</Status>}
      {refused && (
        <div class="refused" role="alert">
          <h3>The test gate refused this version</h3>
          <p>{refused.reason}</p>
          {refused.regressions.length > 0 && (
            <div>
              <p>Cases that passed behind production and fail now:</p>
              <ul>
                {refused.regressions.map((id) => (
                  <li key={id}>{names.get(id) ?? <code>{id}</code>}</li>
                ))}
              </ul>
            </div>
          )}
          <form onSubmit={publish(true)}>
            <label for="force-reason">Publish anyway: why? (recorded with the version)</label>
            <input id="force-reason" required minLength={3} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            <button type="submit" class="danger" disabled={action.busy}>
              Publish anyway
            </button>
          </form>
        </div>
      )}
    </section>
  );
}

function Snippet({ agentId, production }: { agentId: string; production: number | null }): JSX.Element {
  const [variables, setVariables] = useState<Schemas["Variable"][]>([]);
  useEffect(() => {
    if (!production) return;
    void api
      .GET("/api/v1/agents/{agent_id}/versions/{number}", { params: { path: { agent_id: agentId, number: production } } })
      .then(({ data }) => setVariables(data?.variables ?? []));
  }, [agentId, production]);
  const values = variables.map((v) => `"${v.name}": "<${v.description || v.name}>"`).join(", ");
  const extra = variables.length ? `    extra_body={"variables": {${values}}},\n` : "";
  const code = `from openai import OpenAI

client = OpenAI(base_url="${location.origin}/v1", api_key="<your Agent Studio API token>")
reply = client.chat.completions.create(
    model="agent:${agentId}",  # production; "agent:${agentId}@v2" for one version
    messages=[{"role": "user", "content": "Hello"}],
${extra})
print(reply.choices[0].message.content)
`;
  return (
    <section class="panel" aria-labelledby="snippet-heading">
      <h2 id="snippet-heading">Call the published agent</h2>
      <p>Any OpenAI SDK works: point it at the studio and use an API token as the key.</p>
      <pre class="mono">{code}</pre>
      <CopyButton text={code} label="Copy the snippet" />
    </section>
  );
}
