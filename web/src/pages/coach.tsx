// "Ask the coach" for one block: the draft is shown to accept (into the editor, still unsaved) or
// discard. When the coach is unavailable the page says so and the editor keeps working.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, problemOf, type Schemas } from "../api/client";
import type { BlockDef } from "../blocks";
import { ErrorNote, useAction } from "../ui/common";

interface Draft {
  draft: unknown;
  offline: boolean;
  message: string;
}

export function Coach(props: { agentId: string; block: BlockDef; onAccept: (draft: unknown) => void }): JSX.Element {
  const [draft, setDraft] = useState<Draft | null>(null);
  const [unavailable, setUnavailable] = useState<string | null>(null);
  const action = useAction();
  const ask = (): Promise<void> =>
    action.run(async () => {
      setUnavailable(null);
      const { data, error, response } = await api.POST("/api/v1/agents/{agent_id}/spec/coach", {
        params: { path: { agent_id: props.agentId } },
        body: { block: props.block.id as Schemas["CoachRequest"]["block"] },
      });
      if (response.status === 503) {
        setUnavailable(
          `${problemOf(error, response).message}. The coach is unavailable for now; try again in a little while. Everything else works.`,
        );
        return;
      }
      if (!data) throw problemOf(error, response);
      setDraft({ draft: data.draft, offline: data.offline, message: data.message });
    });
  return (
    <div class="coach">
      <button type="button" class="secondary" disabled={action.busy} onClick={ask}>
        {action.busy ? "Asking the coach…" : `Ask the coach about ${props.block.title}`}
      </button>
      <ErrorNote error={action.error} />
      {unavailable && <p class="notice" role="status">{unavailable}</p>}
      {draft && (
        <div class="panel draft" role="region" aria-label={`Coach's draft for ${props.block.title}`}>
          <p>
            {draft.message}
            {draft.offline && <strong class="badge"> offline stand-in</strong>}
          </p>
          <pre>{JSON.stringify(draft.draft, null, 2)}</pre>
          <button
            type="button"
            onClick={() => {
              props.onAccept(draft.draft);
              setDraft(null);
            }}
          >
            Put the draft in the editor
          </button>{" "}
          <button type="button" class="secondary" onClick={() => setDraft(null)}>
            Discard
          </button>
        </div>
      )}
    </div>
  );
}
