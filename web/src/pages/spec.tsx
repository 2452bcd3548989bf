// The Specification tab: every block, completeness, lint warnings next to their fields, the coach
// per block, saving with conflict detection (If-Match), and the revision history.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Agent, api, isProblem, must, problemOf, type Spec, type SpecBlocks, type Warning } from "../api/client";
import { BLOCKS, type BlockDef, type FieldDef } from "../blocks";
import { blocksOf, type Form, formOf, type Row, withBlock } from "../spec-form";
import { ErrorNote, Status, useAction } from "../ui/common";
import { Coach } from "./coach";
import { type Conflict, ConflictView } from "./conflict";
import { Revisions } from "./revisions";

export function SpecTab({ agent }: { agent: Agent }): JSX.Element {
  const [spec, setSpec] = useState<Spec | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const loading = useAction();
  const saving = useAction();
  const path = { params: { path: { agent_id: agent.id } } };

  const adopt = (next: Spec): void => {
    setSpec(next);
    setForm(formOf(next.blocks));
  };

  useEffect(() => {
    void loading.run(async () => adopt(await must(api.GET("/api/v1/agents/{agent_id}/spec", path))));
  }, [agent.id]);

  const put = async (blocks: SpecBlocks, revision: number): Promise<void> => {
    const { data, error, response } = await api.PUT("/api/v1/agents/{agent_id}/spec", {
      ...path,
      params: { ...path.params, header: { "if-match": `"${revision}"` } },
      body: { blocks },
    });
    if (response.status === 412 && spec) {
      const theirs = await must(api.GET("/api/v1/agents/{agent_id}/spec", path));
      setConflict({ base: spec.blocks, mine: blocks, theirs });
      return;
    }
    if (!data) throw problemOf(error, response);
    setConflict(null);
    adopt(data);
    setSaved(`Saved as revision ${data.revision}.`);
  };

  const save = (event: Event): void => {
    event.preventDefault();
    setSaved(null);
    if (!form || !spec) return;
    void saving.run(() => put(blocksOf(form), spec.revision));
  };

  if (loading.error) return <ErrorNote error={loading.error} />;
  if (!spec || !form) return <p role="status">Loading the specification…</p>;

  return (
    <div class="spec">
      <div class="meter-row">
        <label for="completeness">Completeness</label>
        <meter id="completeness" min={0} max={100} low={50} high={80} optimum={100} value={spec.completeness} />
        <span>{spec.completeness}%</span>
        <span class="hint">Revision {spec.revision}</span>
      </div>
      {conflict && (
        <ConflictView
          conflict={conflict}
          busy={saving.busy}
          onResolve={(merged, revision) => void saving.run(() => put(merged, revision))}
        />
      )}
      <form onSubmit={save} aria-label="Specification">
        {BLOCKS.map((block) => (
          <BlockEditor
            key={block.id}
            agentId={agent.id}
            block={block}
            form={form}
            warnings={spec.warnings.filter((w) => w.block === block.id)}
            problems={problemsOf(saving.error)}
            onChange={setForm}
          />
        ))}
        <div class="sticky-actions">
          <ErrorNote error={saving.error} />
          {saving.error && isProblem(saving.error) && saving.error.status === 422 && (
            <p class="hint">Nothing was saved; your edits are still here. Correct the field named above and save again.</p>
          )}
          {saved && <Status>{saved}</Status>}
          <button type="submit" disabled={saving.busy}>
            {saving.busy ? "Saving…" : "Save specification"}
          </button>
        </div>
      </form>
      <Revisions agentId={agent.id} revision={spec.revision} />
    </div>
  );
}

/** The API's 422 problems by the form key they concern ("mission.problem", "examples.0.input"). */
function problemsOf(error: unknown): Record<string, string> {
  if (!isProblem(error) || error.status !== 422) return {};
  const problems = (error.details.problems ?? []) as { field?: string; message?: string }[];
  return Object.fromEntries(
    problems
      .filter((p) => p.field?.startsWith("blocks."))
      .map((p) => [String(p.field).slice("blocks.".length), String(p.message)]),
  );
}

function fieldWarnings(warnings: Warning[], name: string, row?: number): Warning[] {
  return warnings.filter((w) => {
    const parts = (w.field ?? "").split(".");
    return row === undefined ? parts[0] === name : parts[0] === String(row) && parts[1] === name;
  });
}

function Warnings({ items, id }: { items: Warning[]; id: string }): JSX.Element | null {
  if (!items.length) return null;
  return (
    <ul class="warnings" id={id}>
      {items.map((w, i) => (
        <li key={i}>{w.message}</li>
      ))}
    </ul>
  );
}

function BlockEditor(props: {
  agentId: string;
  block: BlockDef;
  form: Form;
  warnings: Warning[];
  problems: Record<string, string>;
  onChange: (form: Form) => void;
}): JSX.Element {
  const { block, form, warnings } = props;
  const named = new Set([...(block.fields ?? []), ...(block.rows?.fields ?? [])].map((f) => f.name));
  const loose = warnings.filter((w) => !w.field || !w.field.split(".").some((p) => named.has(p)));
  return (
    <fieldset class="block" id={`block-${block.id}`}>
      <legend>{block.title}</legend>
      <p class="hint">{block.help}</p>
      <Warnings items={loose} id={`warn-${block.id}`} />
      {block.fields?.map((field) => {
        const key = `${block.id}.${field.name}`;
        const items = fieldWarnings(warnings, field.name);
        return (
          <FieldInput
            key={key}
            id={`f-${block.id}-${field.name}`}
            field={field}
            value={form.texts[key] ?? ""}
            warnings={items}
            problem={props.problems[key]}
            onInput={(value) => props.onChange({ ...form, texts: { ...form.texts, [key]: value } })}
          />
        );
      })}
      {block.rows && <Rows block={block} form={form} warnings={warnings} problems={props.problems} onChange={props.onChange} />}
      <Coach
        agentId={props.agentId}
        block={block}
        onAccept={(draft) => props.onChange(withBlock(form, block.id, draft))}
      />
    </fieldset>
  );
}

function FieldInput(props: {
  id: string;
  field: FieldDef;
  value: string;
  warnings: Warning[];
  problem?: string | undefined;
  onInput: (value: string) => void;
}): JSX.Element {
  const { id, field } = props;
  const described = [field.help ? `${id}-help` : "", props.warnings.length ? `${id}-warn` : "", props.problem ? `${id}-problem` : ""]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    value: props.value,
    "aria-describedby": described || undefined,
    "aria-invalid": props.warnings.length || props.problem ? ("true" as const) : undefined,
    onInput: (event: Event) => props.onInput((event.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class="field">
      <label for={id}>{field.label}</label>
      {field.kind === "text" ? <input {...common} /> : <textarea rows={field.kind === "textarea" ? 2 : 3} {...common} />}
      {field.help && (
        <span class="hint" id={`${id}-help`}>
          {field.help}
        </span>
      )}
      <Warnings items={props.warnings} id={`${id}-warn`} />
      {props.problem && (
        <p class="error" id={`${id}-problem`}>
          Not saved: {props.problem}
        </p>
      )}
    </div>
  );
}

function Rows(props: {
  block: BlockDef;
  form: Form;
  warnings: Warning[];
  problems: Record<string, string>;
  onChange: (form: Form) => void;
}): JSX.Element {
  const { block, form } = props;
  const rows = form.rows[block.id] ?? [];
  const spec = block.rows!;
  const update = (next: Row[]): void => props.onChange({ ...form, rows: { ...form.rows, [block.id]: next } });
  return (
    <div class="rows">
      {rows.map((row, index) => (
        <div class="row-item" key={index}>
          {spec.fields.map((field) => (
            <FieldInput
              key={field.name}
              id={`f-${block.id}-${index}-${field.name}`}
              field={{ ...field, label: `${field.label} (${spec.item} ${index + 1})` }}
              value={String(row[field.name] ?? "")}
              warnings={fieldWarnings(props.warnings, field.name, index)}
              problem={props.problems[`${block.id}.${index}.${field.name}`]}
              onInput={(value) => update(rows.map((r, i) => (i === index ? { ...r, [field.name]: value } : r)))}
            />
          ))}
          {spec.flags?.map((flag) => (
            <label key={flag} class="check">
              <input
                type="checkbox"
                checked={Boolean(row[flag])}
                onChange={(event) => update(rows.map((r, i) => (i === index ? { ...r, [flag]: event.currentTarget.checked } : r)))}
              />{" "}
              {flag}
            </label>
          ))}
          <button type="button" class="secondary" onClick={() => update(rows.filter((_, i) => i !== index))}>
            Remove {spec.item} {index + 1}
          </button>
        </div>
      ))}
      <button type="button" class="secondary" onClick={() => update([...rows, {}])}>
        Add {spec.item}
      </button>
    </div>
  );
}
