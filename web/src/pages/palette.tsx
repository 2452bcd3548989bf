// The command palette (Ctrl/Cmd-K): jump to any agent and tab, or run an action, by keyboard.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Agent, api } from "../api/client";
import { signOut } from "../auth";
import { navigate, TABS } from "../router";

interface Command {
  label: string;
  run: () => void;
}

export function Palette(): JSX.Element | null {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const [agents, setAgents] = useState<Agent[]>([]);
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
        event.preventDefault();
        setOpen(true);
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    if (!open) return;
    dialog.current?.showModal();
    input.current?.focus();
    setQuery("");
    setActive(0);
    void api.GET("/api/v1/agents", { params: { query: { limit: 100 } } }).then(({ data }) => setAgents(data?.items ?? []));
  }, [open]);

  const close = (): void => {
    dialog.current?.close();
    setOpen(false);
  };
  const commands: Command[] = [
    { label: "Go to your agents", run: () => navigate("/") },
    { label: "Create an agent", run: () => { navigate("/"); requestAnimationFrame(() => document.getElementById("agent-name")?.focus()); } },
    { label: "API tokens", run: () => navigate("/tokens") },
    { label: "Sign out", run: () => void signOut().then(() => navigate("/sign-in")) },
    ...agents.flatMap((agent) =>
      TABS.map((tab) => ({ label: `${agent.name}: ${tab}`, run: () => navigate(`/agents/${agent.id}/${tab}`) })),
    ),
  ];
  const needle = query.trim().toLowerCase();
  const shown = commands.filter((c) => c.label.toLowerCase().includes(needle)).slice(0, 30);

  const onKey = (event: KeyboardEvent): void => {
    if (event.key === "ArrowDown") setActive((i) => Math.min(i + 1, shown.length - 1));
    else if (event.key === "ArrowUp") setActive((i) => Math.max(i - 1, 0));
    else if (event.key === "Enter") {
      event.preventDefault();
      const command = shown[active];
      if (command) {
        close();
        command.run();
      }
    } else return;
    event.preventDefault();
  };

  if (!open) return null;
  return (
    <dialog ref={dialog} class="palette" aria-label="Command palette" onClose={() => setOpen(false)}>
      <label for="palette-input">Go to an agent, a tab or an action</label>
      <input
        id="palette-input"
        ref={input}
        role="combobox"
        aria-expanded="true"
        aria-controls="palette-list"
        aria-activedescendant={shown[active] ? `palette-${active}` : undefined}
        value={query}
        onInput={(e) => {
          setQuery(e.currentTarget.value);
          setActive(0);
        }}
        onKeyDown={onKey}
      />
      <ul id="palette-list" role="listbox" aria-label="Commands">
        {shown.map((command, i) => (
          <li
            key={command.label}
            id={`palette-${i}`}
            role="option"
            aria-selected={i === active}
            class={i === active ? "active" : ""}
            onClick={() => {
              close();
              command.run();
            }}
          >
            {command.label}
          </li>
        ))}
      </ul>
    </dialog>
  );
}
