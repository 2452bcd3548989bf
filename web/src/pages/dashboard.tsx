// The caller's agents: search, pagination, each with completeness, its latest pass rate and the
// version on production; and creating an agent, from scratch or from a starter.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Agent, api, must } from "../api/client";
import { Link, navigate } from "../router";
import { TEMPLATES } from "../templates";
import { ErrorNote, percent, Status, useAction } from "../ui/common";

const PAGE = 20;

export function Dashboard(): JSX.Element {
  const [agents, setAgents] = useState<Agent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [query, setQuery] = useState("");
  const loading = useAction();
  const latest = useRef("");

  const load = (q: string, after: string | null): Promise<void> =>
    loading.run(async () => {
      latest.current = q;
      const page = await must(
        api.GET("/api/v1/agents", {
          params: { query: { limit: PAGE, cursor: after ?? undefined, q: q.trim() || undefined } },
        }),
      );
      if (latest.current !== q) return; // a later search is on its way
      setAgents((before) => (after ? [...before, ...page.items] : page.items));
      setCursor(page.next_cursor ?? null);
      setLoaded(true);
    });

  // The search runs on the server, a moment after the last keystroke.
  useEffect(() => {
    const timer = setTimeout(() => void load(query, null), query ? 250 : 0);
    return () => clearTimeout(timer);
  }, [query]);

  return (
    <section>
      <div class="heading-row">
        <h1>Your agents</h1>
      </div>
      <CreateAgent />
      <div class="toolbar" role="search">
        <label for="agent-search">Search agents</label>
        <input
          id="agent-search"
          type="search"
          value={query}
          placeholder="Name or description"
          onInput={(event) => setQuery(event.currentTarget.value)}
        />
      </div>
      <ErrorNote error={loading.error} />
      {loaded && agents.length === 0 && !query && <p>No agents yet. Create your first one above.</p>}
      {loaded && agents.length === 0 && query && <p role="status">No agent matches “{query}”.</p>}
      <ul class="cards" aria-label="Agents">
        {agents.map((agent) => (
          <AgentCard key={agent.id} agent={agent} />
        ))}
      </ul>
      {cursor && (
        <button type="button" class="secondary" disabled={loading.busy} onClick={() => load(query, cursor)}>
          {loading.busy ? "Loading…" : "Load more agents"}
        </button>
      )}
    </section>
  );
}

interface Facts {
  completeness: number | null;
  passRate: number | null;
  production: number | null;
}

function AgentCard({ agent }: { agent: Agent }): JSX.Element {
  const [facts, setFacts] = useState<Facts | null>(null);
  useEffect(() => {
    const path = { params: { path: { agent_id: agent.id } } };
    void Promise.all([
      api.GET("/api/v1/agents/{agent_id}/spec", path),
      api.GET("/api/v1/agents/{agent_id}/test-runs", { params: { ...path.params, query: { limit: 1 } } }),
      api.GET("/api/v1/agents/{agent_id}/channels/{channel}/history", {
        params: { path: { agent_id: agent.id, channel: "production" }, query: { limit: 1 } },
      }),
    ]).then(([spec, runs, history]) =>
      setFacts({
        completeness: spec.data?.completeness ?? null,
        passRate: runs.data?.items[0]?.pass_rate ?? null,
        production: history.data?.items[0]?.to_version ?? null,
      }),
    );
  }, [agent.id]);
  return (
    <li class="card">
      <h2>
        <Link href={`/agents/${agent.id}/specification`}>{agent.name}</Link>
      </h2>
      {agent.description && <p>{agent.description}</p>}
      <dl class="facts">
        <dt>Completeness</dt>
        <dd>{facts?.completeness ?? "—"}{facts?.completeness != null && "%"}</dd>
        <dt>Latest pass rate</dt>
        <dd>{percent(facts?.passRate)}</dd>
        <dt>On production</dt>
        <dd>{facts?.production ? `Version ${facts.production}` : "not published"}</dd>
      </dl>
    </li>
  );
}

function CreateAgent(): JSX.Element {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [template, setTemplate] = useState("");
  const [step, setStep] = useState<string | null>(null);
  const action = useAction();

  const create = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const starter = TEMPLATES.find((t) => t.id === template);
      setStep("Creating the agent…");
      const agent = await must(
        api.POST("/api/v1/agents", {
          body: { name: name.trim(), description: description.trim() || (starter?.description ?? "") },
        }),
      );
      if (starter) {
        const path = { params: { path: { agent_id: agent.id } } };
        setStep("Writing the starter's specification…");
        await must(api.PUT("/api/v1/agents/{agent_id}/spec", { ...path, body: { blocks: starter.spec } }));
        setStep("Adding the starter's test cases…");
        for (const testCase of starter.cases) {
          await must(api.POST("/api/v1/agents/{agent_id}/test-cases", { ...path, body: testCase }));
        }
      }
      setStep(null);
      navigate(`/agents/${agent.id}/specification`);
    });
  };

  return (
    <form class="panel create" onSubmit={create} aria-labelledby="create-heading">
      <h2 id="create-heading">Create an agent</h2>
      <div class="row">
        <div>
          <label for="agent-name">Name</label>
          <input
            id="agent-name"
            required
            maxLength={100}
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <div>
          <label for="agent-template">Start from</label>
          <select
            id="agent-template"
            value={template}
            onChange={(event) => setTemplate(event.currentTarget.value)}
          >
            <option value="">An empty specification</option>
            {TEMPLATES.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}: {t.description}
              </option>
            ))}
          </select>
        </div>
      </div>
      <label for="agent-description">Description (optional)</label>
      <input
        id="agent-description"
        maxLength={500}
        value={description}
        onInput={(event) => setDescription(event.currentTarget.value)}
      />
      <ErrorNote error={action.error} />
      {step && <Status>{step}</Status>}
      <button type="submit" disabled={action.busy}>
        Create agent
      </button>
    </form>
  );
}
