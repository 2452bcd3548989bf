// An agent's own settings: name, description, the pass rate its publish gate asks for; deleting it.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { type Agent, api, must, problemOf } from "../api/client";
import { navigate } from "../router";
import { ErrorNote, Status, useAction } from "../ui/common";

export function AgentSettings({ agent, onSaved }: { agent: Agent; onSaved: (agent: Agent) => void }): JSX.Element {
  const [name, setName] = useState(agent.name);
  const [description, setDescription] = useState(agent.description);
  const [rate, setRate] = useState(String(Math.round(agent.min_pass_rate * 100)));
  const [saved, setSaved] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const saving = useAction();
  const deleting = useAction();
  const path = { params: { path: { agent_id: agent.id } } };

  const save = (event: Event): void => {
    event.preventDefault();
    setSaved(false);
    void saving.run(async () => {
      const body = { name: name.trim(), description: description.trim(), min_pass_rate: Number(rate) / 100 };
      onSaved(await must(api.PATCH("/api/v1/agents/{agent_id}", { ...path, body })));
      setSaved(true);
    });
  };
  const remove = (): Promise<void> =>
    deleting.run(async () => {
      const { response, error } = await api.DELETE("/api/v1/agents/{agent_id}", path);
      if (!response.ok) throw problemOf(error, response);
      navigate("/");
    });

  return (
    <details class="panel settings">
      <summary>Agent settings</summary>
      <form onSubmit={save}>
        <label for="settings-name">Agent name</label>
        <input id="settings-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="settings-description">Agent description</label>
        <input id="settings-description" maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <label for="settings-rate">Pass rate a version needs to publish (%)</label>
        <input id="settings-rate" type="number" min={0} max={100} step={1} required value={rate} onInput={(e) => setRate(e.currentTarget.value)} />
        <ErrorNote error={saving.error} />
        {saved && <Status>Settings saved.</Status>}
        <button type="submit" disabled={saving.busy}>
          Save settings
        </button>
      </form>
      <ErrorNote error={deleting.error} />
      {confirming ? (
        <p>
          Delete “{agent.name}”, its spec, tests and versions? Calls to its published versions will stop working.{" "}
          <button type="button" class="danger" disabled={deleting.busy} onClick={remove}>
            Delete {agent.name} for good
          </button>{" "}
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </p>
      ) : (
        <button type="button" class="secondary danger" onClick={() => setConfirming(true)}>
          Delete this agent
        </button>
      )}
    </details>
  );
}
