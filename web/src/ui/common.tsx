// Small pieces every page uses: an error next to what caused it, a status line, a copy button.
import type { ComponentChildren, JSX } from "preact";
import { useState } from "preact/hooks";
import { describe } from "../api/client";

export function ErrorNote(props: { error: unknown; id?: string }): JSX.Element | null {
  if (props.error === null || props.error === undefined) return null;
  return (
    <p class="error" role="alert" id={props.id}>
      {describe(props.error)}
    </p>
  );
}

export function Status(props: { children: ComponentChildren }): JSX.Element {
  return (
    <p class="status" role="status" aria-live="polite">
      {props.children}
    </p>
  );
}

export function CopyButton(props: { text: string; label: string }): JSX.Element {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(props.text);
      setCopied("Copied");
    } catch {
      setCopied("Copying was refused by the browser; select the text instead");
    }
  };
  return (
    <span class="copy">
      <button type="button" class="secondary" onClick={copy}>
        {props.label}
      </button>
      {copied && <span role="status"> {copied}</span>}
    </span>
  );
}

export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}%`;
}

/** Run `work`, keeping its error and a busy flag for the button that started it. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  run: (work: () => Promise<void>) => Promise<void>;
  setError: (error: unknown) => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
