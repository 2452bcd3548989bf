// Test cases with their assertions (promptfoo's field names): add, edit, delete, and import a
// promptfoo suite, showing what was dropped and why.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, must, problemOf, type Schemas, type TestCase, type TestCaseSpec } from "../api/client";
import { ErrorNote, Status, useAction } from "../ui/common";

type Assertion = Schemas["Assertion"];
// The types the assertion engine runs (libs/assertions); any of them may be prefixed with "not-".
const TYPES = [
  "contains", "icontains", "not-contains", "not-icontains", "contains-any", "contains-all",
  "icontains-any", "icontains-all", "equals", "starts-with", "regex", "is-json", "contains-json",
  "llm-rubric", "similar", "levenshtein", "latency",
];
const NO_VALUE = new Set(["is-json", "contains-json"]);

export function Cases(props: { agentId: string; cases: TestCase[]; onChanged: () => void }): JSX.Element {
  const [editing, setEditing] = useState<string | null>(null);
  const path = (caseId: string) => ({ params: { path: { agent_id: props.agentId, case_id: caseId } } });
  const removing = useAction();
  return (
    <section aria-labelledby="cases-heading">
      <h2 id="cases-heading">Test cases ({props.cases.length})</h2>
      <ErrorNote error={removing.error} />
      <ul class="plain cases">
        {props.cases.map((testCase) =>
          editing === testCase.id ? (
            <li key={testCase.id}>
              <CaseForm
                initial={testCase}
                submitLabel="Save case"
                onCancel={() => setEditing(null)}
                onSubmit={async (body) => {
                  await must(api.PUT("/api/v1/agents/{agent_id}/test-cases/{case_id}", { ...path(testCase.id), body }));
                  setEditing(null);
                  props.onChanged();
                }}
              />
            </li>
          ) : (
            <li key={testCase.id} class="case">
              <strong>{testCase.description || testCase.input.slice(0, 60)}</strong>
              <p class="mono">{testCase.input}</p>
              <ul class="assertions">
                {(testCase.assert ?? []).map((a, i) => (
                  <li key={i}>
                    <code>{a.type}</code> {a.value !== undefined && a.value !== null ? <code>{JSON.stringify(a.value)}</code> : null}
                  </li>
                ))}
              </ul>
              <button type="button" class="secondary" onClick={() => setEditing(testCase.id)}>
                Edit
              </button>{" "}
              <button
                type="button"
                class="secondary danger"
                disabled={removing.busy}
                onClick={() =>
                  removing.run(async () => {
                    const { response, error } = await api.DELETE("/api/v1/agents/{agent_id}/test-cases/{case_id}", path(testCase.id));
                    if (!response.ok) throw problemOf(error, response);
                    props.onChanged();
                  })
                }
              >
                Delete
              </button>
            </li>
          ),
        )}
      </ul>
      <details class="panel">
        <summary>Add a test case</summary>
        <CaseForm
          submitLabel="Add case"
          onSubmit={async (body) => {
            await must(api.POST("/api/v1/agents/{agent_id}/test-cases", { params: { path: { agent_id: props.agentId } }, body }));
            props.onChanged();
          }}
        />
      </details>
      <Import agentId={props.agentId} onImported={props.onChanged} />
    </section>
  );
}

interface Row {
  type: string;
  value: string;
}

function valueText(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function CaseForm(props: {
  initial?: TestCase;
  submitLabel: string;
  onSubmit: (body: TestCaseSpec) => Promise<void>;
  onCancel?: () => void;
}): JSX.Element {
  const [description, setDescription] = useState(props.initial?.description ?? "");
  const [input, setInput] = useState(props.initial?.input ?? "");
  const [rows, setRows] = useState<Row[]>(
    (props.initial?.assert ?? [{ type: "icontains", value: "" }]).map((a) => ({ type: a.type, value: valueText(a.value) })),
  );
  const action = useAction();
  const id = props.initial?.id ?? "new";
  const submit = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const assertions: Assertion[] = rows.map((r) =>
        NO_VALUE.has(r.type) && !r.value.trim() ? { type: r.type } : { type: r.type, value: r.value },
      );
      await props.onSubmit({ description: description || null, input, assert: assertions, vars: props.initial?.vars ?? {} });
      if (!props.initial) {
        setDescription("");
        setInput("");
        setRows([{ type: "icontains", value: "" }]);
      }
    });
  };
  return (
    <form onSubmit={submit} class="case-form">
      <label for={`case-${id}-description`}>Case description</label>
      <input id={`case-${id}-description`} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      <label for={`case-${id}-input`}>Input (the user's message)</label>
      <textarea id={`case-${id}-input`} required rows={2} value={input} onInput={(e) => setInput(e.currentTarget.value)} />
      <fieldset>
        <legend>Assertions</legend>
        {rows.map((row, i) => (
          <div class="row" key={i}>
            <div>
              <label for={`case-${id}-type-${i}`}>Type</label>
              <select
                id={`case-${id}-type-${i}`}
                value={row.type}
                onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, type: e.currentTarget.value } : r)))}
              >
                {[...new Set([row.type, ...TYPES])].map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </div>
            <div>
              <label for={`case-${id}-value-${i}`}>Value</label>
              <input
                id={`case-${id}-value-${i}`}
                value={row.value}
                onInput={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, value: e.currentTarget.value } : r)))}
              />
            </div>
            <button type="button" class="secondary" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
              Remove assertion {i + 1}
            </button>
          </div>
        ))}
        <button type="button" class="secondary" onClick={() => setRows([...rows, { type: "icontains", value: "" }])}>
          Add assertion
        </button>
      </fieldset>
      <ErrorNote error={action.error} />
      <button type="submit" disabled={action.busy}>
        {props.submitLabel}
      </button>{" "}
      {props.onCancel && (
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      )}
    </form>
  );
}

function Import(props: { agentId: string; onImported: () => void }): JSX.Element {
  const [yaml, setYaml] = useState("");
  const [report, setReport] = useState<Schemas["ImportReport"] | null>(null);
  const action = useAction();
  const submit = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const result = await must(
        api.POST("/api/v1/agents/{agent_id}/test-cases/import", {
          params: { path: { agent_id: props.agentId } },
          body: yaml,
          bodySerializer: (body: string) => body,
          headers: { "content-type": "application/yaml" },
        }),
      );
      setReport(result);
      props.onImported();
    });
  };
  return (
    <details class="panel">
      <summary>Import a promptfoo suite</summary>
      <form onSubmit={submit}>
        <label for="import-yaml">promptfoo YAML (a config with <code>tests:</code>, or the list)</label>
        <textarea id="import-yaml" rows={8} class="mono" value={yaml} onInput={(e) => setYaml(e.currentTarget.value)} required />
        <ErrorNote error={action.error} />
        <button type="submit" disabled={action.busy}>
          Import
        </button>
      </form>
      {report && (
        <div>
          <Status>
            Imported {report.imported} case(s), skipped {report.skipped}.
          </Status>
          <ul class="plain">
            {report.cases
              .filter((c) => c.status !== "imported" || c.dropped?.length)
              .map((c) => (
                <li key={c.index}>
                  Test {c.index + 1}: {c.status}
                  {c.problem && ` — ${c.problem}`}
                  {(c.dropped ?? []).map((d) => ` — dropped ${d.type}: ${d.reason}`).join("")}
                </li>
              ))}
          </ul>
        </div>
      )}
    </details>
  );
}
