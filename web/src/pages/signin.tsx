// Sign in with a magic link: ask for it here, open it from the mail (in development the link is
// also in the gateway's log). A refused link comes back here as `?link=<why>`, said in words.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { requestLink } from "../auth";
import { ErrorNote, useAction } from "../ui/common";

const REFUSED_LINK: Record<string, string> = {
  used: "This sign-in link was already used: each link works once.",
  expired: "This sign-in link has expired: links work for 15 minutes.",
  unknown: "This sign-in link is not one Agent Studio sent, or it was cut short when copied.",
};

export function SignIn(): JSX.Element {
  const refused = new URLSearchParams(location.search).get("link");
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const action = useAction();

  const submit = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      setSent(await requestLink(email.trim()));
    });
  };

  return (
    <section class="narrow">
      <h1>Sign in to Agent Studio</h1>
      {sent ? (
        <div class="panel" role="status">
          <h2>Check your mail</h2>
          <p>{sent}</p>
          <p class="hint">
            Open the link in this browser to sign in. When the studio runs on your machine without
            a mail server, the link is printed in the gateway's log.
          </p>
          <button type="button" class="secondary" onClick={() => setSent(null)}>
            Use another address
          </button>
        </div>
      ) : (
        <form onSubmit={submit} class="panel">
          {refused && (
            <div class="notice" role="alert">
              <h2>That link did not sign you in</h2>
              <p>
                {REFUSED_LINK[refused] ?? "This sign-in link cannot be used."} Enter your email address
                to get a new one.
              </p>
            </div>
          )}
          <label for="email">Email address</label>
          <input
            id="email"
            type="email"
            autocomplete="email"
            required
            value={email}
            onInput={(event) => setEmail(event.currentTarget.value)}
            aria-describedby={action.error ? "email-error" : undefined}
          />
          <ErrorNote error={action.error} id="email-error" />
          <button type="submit" disabled={action.busy}>
            {action.busy ? "Sending…" : "Email me a sign-in link"}
          </button>
        </form>
      )}
    </section>
  );
}
