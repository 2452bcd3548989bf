// The eleven spec blocks as the editor shows them: each field's label, kind and help. The shapes
// and limits are the API's (model SpecBlocks); the editor only converts between text and values.
export type FieldKind = "text" | "textarea" | "lines" | "json";

export interface FieldDef {
  name: string;
  label: string;
  kind: FieldKind;
  help?: string;
}

export interface BlockDef {
  id: string;
  title: string;
  help: string;
  fields?: FieldDef[];
  rows?: { fields: FieldDef[]; item: string; flags?: string[] };
}

export const BLOCKS: BlockDef[] = [
  {
    id: "mission",
    title: "Mission",
    help: "The problem the agent solves and how success is checked.",
    fields: [
      { name: "problem", label: "Problem", kind: "textarea" },
      { name: "success_criteria", label: "Success criteria", kind: "lines", help: "One per line; each should be checkable." },
    ],
  },
  { id: "audience", title: "Audience", help: "Whom it serves.", fields: [{ name: "description", label: "Description", kind: "textarea" }] },
  {
    id: "persona",
    title: "Persona",
    help: "Its role and voice.",
    fields: [
      { name: "role", label: "Role", kind: "text" },
      { name: "voice", label: "Voice", kind: "text" },
    ],
  },
  {
    id: "capabilities",
    title: "Capabilities",
    help: "What it can do, and its tools.",
    fields: [
      { name: "summary", label: "Summary", kind: "textarea" },
      { name: "tools", label: "Tools (JSON list of {name, description, parameters})", kind: "json" },
    ],
  },
  { id: "knowledge", title: "Knowledge", help: "Facts it relies on.", fields: [{ name: "facts", label: "Facts", kind: "lines", help: "One per line." }] },
  {
    id: "constraints",
    title: "Constraints",
    help: "What it must and must not do.",
    fields: [
      { name: "must", label: "Must", kind: "lines", help: "One rule per line." },
      { name: "must_not", label: "Must not", kind: "lines", help: "One rule per line." },
    ],
  },
  { id: "workflow", title: "Workflow", help: "The steps it follows.", fields: [{ name: "steps", label: "Steps", kind: "lines", help: "One step per line." }] },
  {
    id: "output",
    title: "Output contract",
    help: "The shape and length of its answers.",
    fields: [
      { name: "format", label: "Format", kind: "text" },
      { name: "length", label: "Length", kind: "text" },
      { name: "json_schema", label: "JSON Schema (optional)", kind: "json" },
    ],
  },
  {
    id: "examples",
    title: "Examples",
    help: "Inputs with the answers expected.",
    rows: {
      item: "example",
      fields: [
        { name: "input", label: "Input", kind: "textarea" },
        { name: "output", label: "Output", kind: "textarea" },
      ],
    },
  },
  {
    id: "escalation",
    title: "Escalation",
    help: "When to hand over, and how.",
    fields: [
      { name: "when", label: "When", kind: "text" },
      { name: "action", label: "Action", kind: "text" },
    ],
  },
  {
    id: "variables",
    title: "Variables",
    help: "Values filled in at call time, used as {{name}}.",
    rows: {
      item: "variable",
      fields: [
        { name: "name", label: "Name", kind: "text" },
        { name: "description", label: "Description", kind: "text" },
        { name: "default", label: "Default (optional)", kind: "text" },
      ],
      flags: ["required"],
    },
  },
];

type Json = unknown;

/** The text a field shows for a value. */
export function toText(kind: FieldKind, value: Json): string {
  if (value === undefined || value === null) return "";
  if (kind === "lines") return Array.isArray(value) ? value.join("\n") : String(value);
  if (kind === "json") return JSON.stringify(value, null, 2);
  return String(value);
}

/** The value a field's text stands for; throws with a message a person can act on. */
export function fromText(kind: FieldKind, text: string, label: string): Json {
  if (kind === "lines") return text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (kind === "json") {
    if (!text.trim()) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${label} is not valid JSON`);
    }
  }
  return text;
}

/** A block with empty fields left out; undefined when nothing is left. */
export function prune(value: Json): Json {
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, Json>)
      .map(([k, v]) => [k, typeof v === "object" && v !== null && !Array.isArray(v) && k !== "json_schema" && k !== "parameters" ? prune(v) : emptyToUndefined(v)] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return emptyToUndefined(value);
}

function emptyToUndefined(value: Json): Json {
  if (value === "" || value === null || value === undefined) return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  return value;
}

export function same(a: Json, b: Json): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: Json): Json {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, canonical((value as Record<string, Json>)[k])]),
    );
  }
  return value ?? null;
}
