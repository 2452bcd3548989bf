// The spec's history of saves, newest first, opened on demand.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { ErrorNote, useAction } from "../ui/common";

type Revision = Schemas["SpecRevisionPublic"];

export function Revisions({ agentId, revision }: { agentId: string; revision: number }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<Revision[]>([]);
  const loading = useAction();
  useEffect(() => {
    if (!open) return;
    void loading.run(async () => {
      const page = await must(
        api.GET("/api/v1/agents/{agent_id}/spec/revisions", {
          params: { path: { agent_id: agentId }, query: { limit: 20 } },
        }),
      );
      setItems(page.items);
    });
  }, [open, revision]);
  return (
    <details class="panel" onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}>
      <summary>Revision history</summary>
      <ErrorNote error={loading.error} />
      <ol class="plain">
        {items.map((r) => (
          <li key={r.revision}>
            Revision {r.revision} · completeness {r.completeness}% · {new Date(r.created_at).toLocaleString()}
          </li>
        ))}
      </ol>
    </details>
  );
}
