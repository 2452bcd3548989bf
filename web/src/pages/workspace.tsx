// One agent, one tab per stage; the tab is in the address, so it can be shared and reloaded.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Agent, api, must } from "../api/client";
import { Link, type Tab, TABS } from "../router";
import { ErrorNote, useAction } from "../ui/common";
import { InstructionsTab } from "./instructions";
import { AgentSettings } from "./settings";
import { SpecTab } from "./spec";
import { TestingTab } from "./testing";
import { VersionsTab } from "./versions";

const LABELS: Record<Tab, string> = {
  specification: "Specification",
  instructions: "Instructions",
  testing: "Testing",
  versions: "Versions",
};

export function Workspace({ agentId, tab }: { agentId: string; tab: Tab }): JSX.Element {
  const [agent, setAgent] = useState<Agent | null>(null);
  const loading = useAction();

  useEffect(() => {
    setAgent(null);
    void loading.run(async () => {
      setAgent(await must(api.GET("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agentId } } })));
    });
  }, [agentId]);

  useEffect(() => {
    if (agent) document.title = `${LABELS[tab]} · ${agent.name} · Agent Studio`;
  }, [agent, tab]);

  if (loading.error) {
    return (
      <section>
        <h1>Agent</h1>
        <ErrorNote error={loading.error} />
        <Link href="/">Back to your agents</Link>
      </section>
    );
  }
  if (!agent) return <p role="status">Loading the agent…</p>;
  return (
    <section>
      <p class="crumbs">
        <Link href="/">Agents</Link> /
      </p>
      <h1>{agent.name}</h1>
      {agent.description && <p class="hint">{agent.description}</p>}
      <AgentSettings key={agent.id} agent={agent} onSaved={setAgent} />
      <nav class="tabs" aria-label="Stages">
        {TABS.map((t) => (
          <Link key={t} href={`/agents/${agent.id}/${t}`} aria-current={t === tab ? "page" : undefined}>
            {LABELS[t]}
          </Link>
        ))}
      </nav>
      <div class="tab-body">
        {tab === "specification" && <SpecTab agent={agent} />}
        {tab === "instructions" && <InstructionsTab agent={agent} />}
        {tab === "testing" && <TestingTab agent={agent} />}
        {tab === "versions" && <VersionsTab agent={agent} />}
      </div>
    </section>
  );
}
