// Everything the UI knows about signing in lives here: who the caller is, the CSRF token its
// writes send, requesting a magic link and signing out. The rest of the UI only calls these.
import type { components } from "./api/schema";
import { signal } from "./state";

export interface Me {
  id: string;
  email: string;
  authenticatedBy: "session" | "token";
}

export const me = signal<Me | null | undefined>(undefined); // undefined: not known yet
let csrfToken: string | null = null;

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function authHeaders(method: string): Record<string, string> {
  return csrfToken && WRITES.has(method.toUpperCase()) ? { "X-CSRF-Token": csrfToken } : {};
}

export function onUnauthenticated(): void {
  csrfToken = null;
  me.set(null);
}

type MeBody = components["schemas"]["MePublic"];

/** Who is signed in (a session cookie, or a token header a tool adds), or null. */
export async function loadMe(): Promise<Me | null> {
  try {
    const response = await fetch("/api/v1/me", { headers: { accept: "application/json" } });
    if (!response.ok) {
      onUnauthenticated();
      return null;
    }
    const body = (await response.json()) as MeBody;
    csrfToken = body.session?.csrf_token ?? null;
    const who: Me = { id: body.id, email: body.email, authenticatedBy: body.authenticated_by };
    me.set(who);
    return who;
  } catch {
    onUnauthenticated();
    return null;
  }
}

/** Ask for a sign-in link by mail; the answer is the same for every address. */
export async function requestLink(email: string): Promise<string> {
  const response = await fetch("/api/v1/auth/magic-link", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ email }),
  });
  const body = (await response.json().catch(() => ({}))) as {
    message?: string;
    error?: { message?: string };
  };
  if (!response.ok) throw new Error(body.error?.message ?? `the server answered ${response.status}`);
  return body.message ?? "A sign-in link is on its way.";
}

export async function signOut(everywhere = false): Promise<void> {
  const path = everywhere ? "/api/v1/auth/sign-out-everywhere" : "/api/v1/auth/sign-out";
  await fetch(path, { method: "POST", headers: authHeaders("POST") });
  onUnauthenticated();
}
