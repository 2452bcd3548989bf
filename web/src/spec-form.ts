// The spec editor's state as text (what the inputs hold), and its conversion to and from blocks.
import type { SpecBlocks } from "./api/client";
import { BLOCKS, type BlockDef, fromText, prune, toText } from "./blocks";

export type Row = Record<string, string | boolean>;
export interface Form {
  texts: Record<string, string>; // "<block>.<field>"
  rows: Record<string, Row[]>; // "<block>"
}

type Json = Record<string, unknown>;

export function formOf(blocks: SpecBlocks): Form {
  const form: Form = { texts: {}, rows: {} };
  for (const block of BLOCKS) setBlock(form, block, (blocks as Json)[block.id]);
  return form;
}

export function withBlock(form: Form, blockId: string, value: unknown): Form {
  const next: Form = { texts: { ...form.texts }, rows: { ...form.rows } };
  const block = BLOCKS.find((b) => b.id === blockId);
  if (block) setBlock(next, block, value);
  return next;
}

function setBlock(form: Form, block: BlockDef, value: unknown): void {
  if (block.rows) {
    const items = Array.isArray(value) ? (value as Json[]) : [];
    form.rows[block.id] = items.map((item) => {
      const row: Row = {};
      for (const f of block.rows?.fields ?? []) row[f.name] = toText(f.kind, item[f.name]);
      for (const flag of block.rows?.flags ?? []) row[flag] = Boolean(item[flag]);
      return row;
    });
    return;
  }
  const fields = (value ?? {}) as Json;
  for (const f of block.fields ?? []) form.texts[`${block.id}.${f.name}`] = toText(f.kind, fields[f.name]);
}

/** One block's value from the form (undefined when empty); throws on text that is not valid. */
export function blockOf(form: Form, block: BlockDef): unknown {
  if (block.rows) {
    const rows = form.rows[block.id] ?? [];
    return prune(
      rows.map((row) => {
        const item: Json = {};
        for (const f of block.rows?.fields ?? []) item[f.name] = fromText(f.kind, String(row[f.name] ?? ""), f.label);
        for (const flag of block.rows?.flags ?? []) item[flag] = Boolean(row[flag]);
        // A row with nothing typed in (only its flags set) is left out, as an empty field is.
        const typed = Object.entries(item).filter(([k]) => !(block.rows?.flags ?? []).includes(k));
        return prune(Object.fromEntries(typed)) === undefined ? undefined : item;
      }),
    );
  }
  const value: Json = {};
  for (const f of block.fields ?? []) {
    value[f.name] = fromText(f.kind, form.texts[`${block.id}.${f.name}`] ?? "", `${block.title}: ${f.label}`);
  }
  return prune(value);
}

export function blocksOf(form: Form): SpecBlocks {
  const blocks: Json = {};
  for (const block of BLOCKS) {
    const value = blockOf(form, block);
    if (value !== undefined) blocks[block.id] = value;
  }
  return blocks as SpecBlocks;
}
