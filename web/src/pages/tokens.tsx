// API tokens for scripts and SDKs: create one (shown once), see them, revoke one; and signing out
// of every browser session.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, must, problemOf, type Schemas } from "../api/client";
import { signOut } from "../auth";
import { navigate } from "../router";
import { CopyButton, ErrorNote, Status, useAction } from "../ui/common";

type Token = Schemas["TokenPublic"];

function when(value: string | null | undefined, otherwise: string): string {
  return value ? new Date(value).toLocaleString() : otherwise;
}

export function Tokens(): JSX.Element {
  const [tokens, setTokens] = useState<Token[]>([]);
  const [name, setName] = useState("");
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<Schemas["TokenCreated"] | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const loading = useAction();
  const creating = useAction();
  const revoking = useAction();

  const load = (): Promise<void> =>
    loading.run(async () => setTokens((await must(api.GET("/api/v1/tokens", { params: { query: { limit: 100 } } }))).items));
  useEffect(() => void load(), []);

  const create = (event: Event): void => {
    event.preventDefault();
    void creating.run(async () => {
      const expires = days.trim() ? Number(days) : null;
      setCreated(await must(api.POST("/api/v1/tokens", { body: { name: name.trim(), expires_in_days: expires } })));
      setName("");
      await load();
    });
  };
  const revoke = (id: string): Promise<void> =>
    revoking.run(async () => {
      const { response, error } = await api.DELETE("/api/v1/tokens/{token_id}", { params: { path: { token_id: id } } });
      if (!response.ok) throw problemOf(error, response);
      setConfirming(null);
      await load();
    });

  return (
    <section>
      <h1>API tokens</h1>
      <p>Tokens let scripts and OpenAI SDKs call the studio as you. Treat each like a password.</p>
      <form class="panel" onSubmit={create} aria-labelledby="new-token-heading">
        <h2 id="new-token-heading">Create a token</h2>
        <div class="row">
          <div>
            <label for="token-name">Name</label>
            <input id="token-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <div>
            <label for="token-days">Expires after (days; empty: never)</label>
            <input id="token-days" type="number" min={1} max={3650} value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </div>
        </div>
        <ErrorNote error={creating.error} />
        <button type="submit" disabled={creating.busy}>
          Create token
        </button>
      </form>
      {created && (
        <div class="panel" role="region" aria-label="New token">
          <p>
            <strong>Copy the token “{created.name}” now:</strong> it is not shown again.
          </p>
          <pre class="mono">{created.token}</pre>
          <CopyButton text={created.token} label="Copy the token" />{" "}
          <button type="button" class="secondary" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      <ErrorNote error={loading.error ?? revoking.error} />
      <table class="tokens">
        <caption>Your tokens</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Starts with</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                <code>{t.prefix}…</code>
              </td>
              <td>{when(t.created_at, "—")}</td>
              <td>{when(t.last_used_at, "never")}</td>
              <td>{when(t.expires_at, "never")}</td>
              <td>
                {confirming === t.id ? (
                  <>
                    <button type="button" class="danger" disabled={revoking.busy} onClick={() => revoke(t.id)}>
                      Revoke {t.name} now
                    </button>{" "}
                    <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                      Keep it
                    </button>
                  </>
                ) : (
                  <button type="button" class="secondary danger" onClick={() => setConfirming(t.id)}>
                    Revoke {t.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {tokens.length === 0 && !loading.busy && <p>No tokens.</p>}
      <div class="panel">
        <h2>Sessions</h2>
        <p>Signs out every browser signed in as you, this one included. Tokens keep working.</p>
        <button type="button" class="secondary danger" onClick={() => void signOut(true).then(() => navigate("/sign-in"))}>
          Sign out everywhere
        </button>
      </div>
      <Status>{loading.busy ? "Loading tokens…" : ""}</Status>
    </section>
  );
}
