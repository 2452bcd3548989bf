// Client-side routes in the address bar, so a tab can be shared and reloaded; the gateway answers
// every such path with index.html.
import type { ComponentChildren, JSX } from "preact";
import { signal, useSignal } from "./state";

export const path = signal(location.pathname + location.search);

export function navigate(to: string, replace = false): void {
  if (to === path.get()) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.set(to);
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => path.set(location.pathname + location.search));

export function usePath(): string {
  return useSignal(path);
}

export type Route =
  | { page: "signin" }
  | { page: "dashboard" }
  | { page: "tokens" }
  | { page: "agent"; agentId: string; tab: Tab }
  | { page: "missing" };

export const TABS = ["specification", "instructions", "testing", "versions"] as const;
export type Tab = (typeof TABS)[number];

export function parse(location: string): Route {
  const pathname = location.split("?")[0] ?? "/";
  const parts = pathname.split("/").filter(Boolean);
  if (parts.length === 0) return { page: "dashboard" };
  if (parts[0] === "sign-in" && parts.length === 1) return { page: "signin" };
  if (parts[0] === "tokens" && parts.length === 1) return { page: "tokens" };
  if (parts[0] === "agents" && parts[1] && parts.length <= 3) {
    const tab = (parts[2] ?? "specification") as Tab;
    if (TABS.includes(tab)) return { page: "agent", agentId: parts[1], tab };
  }
  return { page: "missing" };
}

export function Link(props: {
  href: string;
  children: ComponentChildren;
  class?: string;
  "aria-current"?: JSX.AriaAttributes["aria-current"];
}): JSX.Element {
  const follow = (event: MouseEvent): void => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} aria-current={props["aria-current"]} onClick={follow}>
      {props.children}
    </a>
  );
}
