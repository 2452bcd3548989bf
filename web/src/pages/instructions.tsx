// The Instructions tab: compile the saved spec and read the result: sections (System Backbone
// first), the exact token count, the variables it needs, and a copy button.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { Agent, Compilation } from "../api/client";
import { compile, lastCompilation } from "../compile";
import { CopyButton, ErrorNote, Status, useAction } from "../ui/common";

export function InstructionsTab({ agent }: { agent: Agent }): JSX.Element {
  const [compilation, setCompilation] = useState<Compilation | undefined>(lastCompilation(agent.id));
  const action = useAction();
  const run = (): Promise<void> => action.run(async () => setCompilation(await compile(agent.id)));
  return (
    <div>
      <p class="hint">Compiles the last saved specification into the system instructions an LLM receives.</p>
      <button type="button" disabled={action.busy} onClick={run}>
        {action.busy ? "Compiling…" : "Compile"}
      </button>
      {action.busy && <Status>Compiling the specification…</Status>}
      <ErrorNote error={action.error} />
      {compilation?.status === "failed" && (
        <p class="error" role="alert">
          The specification does not compile: {compilation.error}
        </p>
      )}
      {compilation?.status === "succeeded" && <Compiled compilation={compilation} />}
    </div>
  );
}

function Compiled({ compilation }: { compilation: Compilation }): JSX.Element {
  return (
    <div class="compiled">
      <dl class="facts">
        <dt>Tokens</dt>
        <dd>
          {compilation.token_count ?? "—"}
          {compilation.token_count_method && <span class="hint"> ({compilation.token_count_method})</span>}
        </dd>
        <dt>Variables</dt>
        <dd>{compilation.variables.length ? compilation.variables.map((v) => `{{${v.name}}}${v.required ? "" : " (optional)"}`).join(", ") : "none"}</dd>
        <dt>Spec revision</dt>
        <dd>{compilation.spec_revision}</dd>
      </dl>
      <CopyButton text={compilation.instructions ?? ""} label="Copy instructions" />
      {compilation.sections.map((section) => (
        <section class="instruction-section" key={section.title} aria-label={section.title}>
          <h2>{section.title}</h2>
          <pre>{section.body}</pre>
        </section>
      ))}
    </div>
  );
}
