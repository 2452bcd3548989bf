// Someone else saved first: both versions side by side, block by block, nothing lost. Each block
// that differs keeps by default the side that changed it since the edit began (mine when both
// did); the person can choose otherwise before saving the merge.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Spec, SpecBlocks } from "../api/client";
import { BLOCKS, same } from "../blocks";

type Side = "mine" | "theirs";

export interface Conflict {
  base: SpecBlocks;
  mine: SpecBlocks;
  theirs: Spec;
}

function get(blocks: SpecBlocks, id: string): unknown {
  return (blocks as Record<string, unknown>)[id];
}

export function ConflictView(props: {
  conflict: Conflict;
  busy: boolean;
  onResolve: (merged: SpecBlocks, revision: number) => void;
}): JSX.Element {
  const { base, mine, theirs } = props.conflict;
  const differing = BLOCKS.filter((b) => !same(get(mine, b.id), get(theirs.blocks, b.id)));
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [theirs.revision]);
  const [choice, setChoice] = useState<Record<string, Side>>(() =>
    Object.fromEntries(
      differing.map((b) => [b.id, same(get(mine, b.id), get(base, b.id)) ? "theirs" : "mine"]),
    ),
  );
  const merge = (): void => {
    const merged: Record<string, unknown> = { ...(theirs.blocks as Record<string, unknown>) };
    for (const block of differing) {
      const value = choice[block.id] === "mine" ? get(mine, block.id) : get(theirs.blocks, block.id);
      if (value === undefined || value === null) delete merged[block.id];
      else merged[block.id] = value;
    }
    props.onResolve(merged as SpecBlocks, theirs.revision);
  };
  const show = (value: unknown): string => (value === undefined || value === null ? "(empty)" : JSON.stringify(value, null, 2));
  return (
    <section class="panel conflict" aria-labelledby="conflict-heading" role="region">
      <h2 id="conflict-heading" ref={heading} tabIndex={-1}>Someone else saved this specification first</h2>
      <p>
        Revision {theirs.revision} was saved while you were editing. Nothing is lost: both versions
        are below. Choose which to keep for each block that differs, then save the merge.
      </p>
      {differing.map((block) => (
        <fieldset key={block.id} class="side-by-side">
          <legend>{block.title}</legend>
          <div>
            <h3>Your version</h3>
            <pre>{show(get(mine, block.id))}</pre>
            <label>
              <input
                type="radio"
                name={`keep-${block.id}`}
                checked={choice[block.id] === "mine"}
                onChange={() => setChoice({ ...choice, [block.id]: "mine" })}
              />{" "}
              Keep yours
            </label>
          </div>
          <div>
            <h3>Saved version (revision {theirs.revision})</h3>
            <pre>{show(get(theirs.blocks, block.id))}</pre>
            <label>
              <input
                type="radio"
                name={`keep-${block.id}`}
                checked={choice[block.id] === "theirs"}
                onChange={() => setChoice({ ...choice, [block.id]: "theirs" })}
              />{" "}
              Keep the saved one
            </label>
          </div>
        </fieldset>
      ))}
      <button type="button" disabled={props.busy} onClick={merge}>
        Save the merge
      </button>
    </section>
  );
}
