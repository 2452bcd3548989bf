// The shell: who is signed in, the header, the page of the current route, the command palette.
import type { JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { loadMe, me, signOut } from "./auth";
import { Link, navigate, parse, usePath } from "./router";
import { useSignal } from "./state";
import { Dashboard } from "./pages/dashboard";
import { SignIn } from "./pages/signin";
import { Workspace } from "./pages/workspace";
import { Palette } from "./pages/palette";
import { Tokens } from "./pages/tokens";

export function App(): JSX.Element {
  const location = usePath();
  const who = useSignal(me);
  const route = parse(location);

  useEffect(() => {
    void loadMe();
  }, []);

  useEffect(() => {
    if (who === null && route.page !== "signin") navigate("/sign-in", true);
    if (who && route.page === "signin") navigate("/", true);
  }, [who, route.page]);

  // A new page moves focus to its content, so a screen reader starts there (not on the old link).
  const pageKey = route.page === "agent" ? `agent/${route.agentId}/${route.tab}` : route.page;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [pageKey]);

  useEffect(() => {
    const title = { signin: "Sign in", dashboard: "Agents", tokens: "API tokens", agent: "Agent", missing: "Not found" }[route.page];
    document.title = `${title} · Agent Studio`;
  }, [route.page]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          Agent Studio
        </Link>
        {who && (
          <nav aria-label="Account" class="account">
            <Link href="/tokens">API tokens</Link>
            <span class="who">{who.email}</span>
            <button
              type="button"
              class="secondary"
              onClick={async () => {
                await signOut();
                navigate("/sign-in");
              }}
            >
              Sign out
            </button>
          </nav>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {who === undefined && <p role="status">Loading…</p>}
        {who === null && route.page === "signin" && <SignIn />}
        {who && route.page === "dashboard" && <Dashboard />}
        {who && route.page === "tokens" && <Tokens />}
        {who && route.page === "agent" && <Workspace agentId={route.agentId} tab={route.tab} />}
        {who && route.page === "missing" && (
          <section>
            <h1>Nothing here</h1>
            <p>
              This address is not a page of Agent Studio. <Link href="/">Go to your agents</Link>.
            </p>
          </section>
        )}
      </main>
      {who && <Palette />}
    </>
  );
}
