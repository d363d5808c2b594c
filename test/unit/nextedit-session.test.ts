import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { InlineArbiter } from '../../src/nextEdit/arbiter';
import { MAX_LINE_CHARS, MAX_SUGGESTION_CHARS } from '../../src/nextEdit/guards';
import { cursorAfterAccept, positionAfterEdits } from '../../src/nextEdit/placement';
import { parseScript, ScriptedPredictor } from '../../src/nextEdit/scripted';
import { NextEditSession, type EditorDocument, type Outcome, type SessionState, type Timers } from '../../src/nextEdit/session';
import type {
  DocumentChange,
  NextEditPredictor,
  NextEditRequest,
  NextEditSuggestion,
  PlainEdit,
  Position,
  Range,
} from '../../src/nextEdit/types';

/** Timers run by hand: `tick(ms)` fires what is due, in order. */
class FakeTimers implements Timers {
  now = 0;
  private queue: { at: number; id: number; callback: () => void }[] = [];
  private nextId = 1;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.queue.push({ at: this.now + ms, id, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }
  get pending(): number {
    return this.queue.length;
  }
  async tick(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at);
      const due = this.queue[0];
      if (!due || due.at > until) break;
      this.queue.shift();
      this.now = due.at;
      due.callback();
      await flush();
    }
    this.now = until;
    await flush();
  }
}

/** The state, read fresh (an assertion on `session.state` would narrow its type for the rest of a test). */
const stateOf = (session: NextEditSession): SessionState => session.state;

function shown(session: NextEditSession): SessionState & { kind: 'shown' } {
  const state = session.state;
  assert.equal(state.kind, 'shown');
  return state;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A predictor whose answers the test gives, one pending request at a time. */
class FakePredictor implements NextEditPredictor {
  recorded: DocumentChange[] = [];
  requests: { request: NextEditRequest; signal: AbortSignal; answer(s: NextEditSuggestion | undefined): void; fail(e: Error): void }[] = [];
  recordChange(change: DocumentChange): void {
    this.recorded.push(change);
  }
  predict(request: NextEditRequest, signal: AbortSignal): Promise<NextEditSuggestion | undefined> {
    return new Promise((resolve, reject) => this.requests.push({ request, signal, answer: resolve, fail: reject }));
  }
  dispose(): void {}
  get last() {
    return this.requests[this.requests.length - 1];
  }
}

/** The active editor: a text, its version and the cursor. */
class FakeEditor {
  version = 1;
  cursor: Position = { line: 0, character: 0 };
  constructor(
    public text: string,
    readonly uri = 'file:///ws/cart.ts',
    readonly scheme = 'file',
  ) {}
  lines(): string[] {
    return this.text.split('\n');
  }
  document(): EditorDocument {
    const lines = this.lines();
    return {
      uri: this.uri,
      scheme: this.scheme,
      readOnly: false,
      languageId: 'typescript',
      version: this.version,
      length: this.text.length,
      lineCount: lines.length,
      lineText: (line) => lines[line],
      text: () => this.text,
      textIn: (range) => textIn(this.text, range),
    };
  }
  /** Applies a replacement like the editor does and returns the change event. */
  edit(range: Range, text: string): DocumentChange {
    const before = textIn(this.text, { start: { line: 0, character: 0 }, end: range.start });
    const removed = textIn(this.text, range);
    this.text = before + text + this.text.slice(before.length + removed.length);
    this.version++;
    return {
      uri: this.uri,
      languageId: 'typescript',
      version: this.version,
      changes: [{ range, rangeLength: removed.length, text }],
      textAfter: this.text,
    };
  }
}

function offsetOf(text: string, p: Position): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < p.line; i++) offset += lines[i].length + 1;
  return offset + p.character;
}

function textIn(text: string, range: Range): string {
  return text.slice(offsetOf(text, range.start), offsetOf(text, range.end));
}

const pos = (line: number, character: number): Position => ({ line, character });
const at = (line: number, character: number): Range => ({ start: pos(line, character), end: pos(line, character) });

const SOURCE = [
  'export function total(items: Item[]): number {', // 0
  '  let sum = 0;', // 1
  '  for (const item of items) {', // 2
  '    sum += item.price;', // 3
  '  }', // 4
  '  return sum;', // 5
  '}', // 6
].join('\n');

function setup(options: { text?: string; enabled?: boolean; scheme?: string; timeoutMs?: number } = {}) {
  const editor = new FakeEditor(options.text ?? SOURCE, undefined, options.scheme);
  const predictor = new FakePredictor();
  const timers = new FakeTimers();
  const arbiter = new InlineArbiter();
  const states: SessionState[] = [];
  const outcomes: { outcome: Outcome; detail: string }[] = [];
  let active: FakeEditor | undefined = editor;
  const session = new NextEditSession({
    predictor,
    arbiter,
    timers,
    host: { activeEditor: () => active && { document: active.document(), cursor: active.cursor } },
    enabled: () => options.enabled ?? true,
    debounceMs: () => 100,
    requestTimeoutMs: options.timeoutMs,
    onState: (s) => states.push(s),
    onOutcome: (outcome, detail) => outcomes.push({ outcome, detail }),
  });
  /** The user types `text` at the cursor (the cursor moves after it). */
  const type = (text: string, undoRedo = false) => {
    const change = editor.edit(at(editor.cursor.line, editor.cursor.character), text);
    editor.cursor = pos(editor.cursor.line, editor.cursor.character + text.length);
    session.documentChanged(editor.document(), () => change, { undoRedo });
    return change;
  };
  return { editor, predictor, timers, arbiter, states, outcomes, session, type, setActive: (e: FakeEditor | undefined) => (active = e) };
}

/** A rename two lines below the cursor: `sum` → `total` on line 5. */
function renameBelow(uri: string, version: number): NextEditSuggestion {
  return { uri, version, edits: [{ range: { start: pos(5, 9), end: pos(5, 12) }, newText: 'total' }] };
}

describe('next-edit session: request, show, jump, accept', () => {
  it('asks after the debounce for the active cursor, shows an edit elsewhere, Tab jumps, Tab returns exactly the shown edit', async () => {
    const { editor, predictor, timers, session, type, arbiter } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    assert.equal(predictor.recorded.length, 1, 'the change is recorded at once');
    assert.equal(predictor.requests.length, 0, 'no request before the debounce');
    await timers.tick(99);
    assert.equal(predictor.requests.length, 0);
    await timers.tick(1);
    assert.equal(predictor.requests.length, 1);
    assert.deepEqual(predictor.last.request.cursor, pos(1, 10));
    assert.equal(predictor.last.request.version, editor.version);
    assert.equal(predictor.last.request.text, editor.text);

    const suggestion = renameBelow(editor.uri, editor.version);
    predictor.last.answer(suggestion);
    await flush();
    const before = shown(session);
    assert.ok(before.placement.kind === 'decorations' && !before.jumped);
    assert.equal(arbiter.completionMayShow(editor.uri, editor.version), false, 'ghost text must not show now');

    assert.equal(session.accept(editor.uri, editor.version), undefined, 'the first Tab jumps, it does not accept');
    assert.deepEqual(session.jump(), pos(5, 9));
    assert.ok(shown(session).jumped);
    assert.equal(session.jump(), undefined, 'no second jump');
    assert.equal(session.accept(editor.uri, editor.version), suggestion, 'exactly the shown suggestion');
    assert.equal(stateOf(session).kind, 'idle');
    assert.equal(arbiter.completionMayShow(editor.uri, editor.version), true, 'released after accepting');
  });

  it('the next edit aborts the request in flight; its late answer is never shown', async () => {
    const { editor, predictor, timers, session, type } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    await timers.tick(100);
    const first = predictor.last;
    type('y');
    assert.equal(first.signal.aborted, true);
    first.answer(renameBelow(editor.uri, editor.version - 1));
    await flush();
    assert.equal(stateOf(session).kind, 'debouncing');
    await timers.tick(100);
    assert.equal(predictor.requests.length, 2);
    assert.equal(predictor.last.request.version, editor.version);
  });

  it('a change of the document ends a shown suggestion at once, and a late accept applies nothing', async () => {
    const { editor, predictor, timers, session, type, states } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    await timers.tick(100);
    const shownVersion = editor.version;
    predictor.last.answer(renameBelow(editor.uri, shownVersion));
    await flush();
    session.jump();
    const before = states.length;
    type('z');
    assert.equal(states[before].kind, 'idle', 'the first state after the change is idle: decorations cleared synchronously');
    assert.equal(session.accept(editor.uri, shownVersion), undefined);
  });

  it('accept at another version (a formatter rewrote the file) returns nothing and ends the suggestion', async () => {
    const { editor, predictor, timers, session, type, outcomes } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    await timers.tick(100);
    predictor.last.answer(renameBelow(editor.uri, editor.version));
    await flush();
    session.jump();
    assert.equal(session.accept(editor.uri, editor.version + 1), undefined);
    assert.equal(stateOf(session).kind, 'idle');
    assert.equal(outcomes.at(-1)?.outcome, 'stale');
  });

  it('Escape dismisses; moving to another editor dismisses', async () => {
    const { editor, predictor, timers, session, type } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    await timers.tick(100);
    predictor.last.answer(renameBelow(editor.uri, editor.version));
    await flush();
    session.dismiss();
    assert.equal(stateOf(session).kind, 'idle');
    type('y');
    await timers.tick(100);
    predictor.last.answer(renameBelow(editor.uri, editor.version));
    await flush();
    assert.equal(stateOf(session).kind, 'shown');
    session.activeEditorChanged(undefined);
    assert.equal(stateOf(session).kind, 'shown', 'focus leaving the editors for a moment keeps the suggestion');
    session.activeEditorChanged('file:///ws/other.ts');
    assert.equal(stateOf(session).kind, 'idle');
  });

  it('the cursor on the target lines counts as jumped (Tab accepts); away from them it does not', async () => {
    const { editor, predictor, timers, session, type } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    await timers.tick(100);
    predictor.last.answer(renameBelow(editor.uri, editor.version));
    await flush();
    session.selectionChanged(editor.uri, pos(5, 0));
    assert.ok(shown(session).jumped);
    session.selectionChanged(editor.uri, pos(2, 0));
    assert.ok(!shown(session).jumped);
  });

  it('an edit on the cursor line that only inserts at the cursor is ghost text; one that replaces is decorations, already jumped', async () => {
    const { editor, predictor, timers, session, type } = setup();
    editor.cursor = pos(3, 21); // after `item.price`
    type(' ');
    await timers.tick(100);
    predictor.last.answer({ uri: editor.uri, version: editor.version, edits: [{ range: at(3, 22), newText: '* item.count;' }] });
    await flush();
    assert.ok(shown(session).placement.kind === 'inline');
    type('*');
    await timers.tick(100);
    predictor.last.answer({
      uri: editor.uri,
      version: editor.version,
      edits: [{ range: { start: pos(3, 4), end: pos(3, 7) }, newText: 'total' }],
    });
    await flush();
    assert.ok(shown(session).placement.kind === 'decorations' && shown(session).jumped);
  });

  it('yields to ghost text offered for the same version, and takes the next version', async () => {
    const { editor, predictor, timers, session, type, arbiter, outcomes } = setup();
    editor.cursor = pos(1, 9);
    type('x');
    assert.equal(arbiter.completionMayShow(editor.uri, editor.version), true);
    await timers.tick(100);
    predictor.last.answer(renameBelow(editor.uri, editor.version));
    await flush();
    assert.equal(stateOf(session).kind, 'idle');
    assert.equal(outcomes.at(-1)?.outcome, 'yielded to completion');
    type('y');
    await timers.tick(100);
    predictor.last.answer(renameBelow(editor.uri, editor.version));
    await flush();
    assert.equal(stateOf(session).kind, 'shown');
  });
});

describe('next-edit session: bad input — no suggestion, nothing thrown, editor never waits', () => {
  for (const scheme of ['vscode-notebook-cell', 'git', 'output', 'vscode-userdata']) {
    it(`a ${scheme}: document is neither recorded nor predicted for`, async () => {
      const { predictor, timers, type } = setup({ scheme });
      type('x');
      await timers.tick(1000);
      assert.equal(predictor.recorded.length, 0);
      assert.equal(predictor.requests.length, 0);
    });
  }

  it('a read-only or huge document is not watched', async () => {
    const { editor, predictor, timers, session } = setup();
    const change = editor.edit(at(0, 0), 'x');
    session.documentChanged({ uri: editor.uri, scheme: 'file', readOnly: true, length: 10, lineCount: 1 }, () => change);
    session.documentChanged({ uri: editor.uri, scheme: 'file', readOnly: false, length: 2_000_000, lineCount: 10 }, () => change);
    session.documentChanged({ uri: editor.uri, scheme: 'file', readOnly: false, length: 100_000, lineCount: 50_000 }, () => change);
    await timers.tick(1000);
    assert.equal(predictor.recorded.length, 0);
    assert.equal(predictor.requests.length, 0);
  });

  it('a paste of 10,000 lines is recorded but not predicted after; a formatter rewriting the whole file neither', async () => {
    const { editor, predictor, timers, session } = setup();
    const paste = editor.edit(at(6, 1), '\nconst x = 1;'.repeat(10_000));
    session.documentChanged(editor.document(), () => paste);
    const rewrite: DocumentChange = {
      ...paste,
      version: ++editor.version,
      changes: Array.from({ length: 500 }, (_, i) => ({ range: at(i, 0), rangeLength: 0, text: '  ' })),
    };
    session.documentChanged(editor.document(), () => rewrite);
    await timers.tick(1000);
    assert.equal(predictor.recorded.length, 2);
    assert.equal(predictor.requests.length, 0);
  });

  it('a 100,000-character line near the cursor: no request', async () => {
    const { editor, predictor, timers, type, outcomes } = setup({ text: `const data = "${'a'.repeat(100_000)}";\nlet y = 1;\n` });
    editor.cursor = pos(1, 10);
    type('2');
    await timers.tick(1000);
    assert.equal(predictor.requests.length, 0);
    assert.ok(MAX_LINE_CHARS < 100_000);
    assert.equal(outcomes.at(-1)?.outcome, 'refused');
  });

  it('undo and redo are recorded but not predicted after', async () => {
    const { predictor, timers, type } = setup();
    type('x', true);
    await timers.tick(1000);
    assert.equal(predictor.recorded.length, 1);
    assert.equal(predictor.requests.length, 0);
  });

  it('turned off: nothing recorded, nothing asked', async () => {
    const { predictor, timers, type } = setup({ enabled: false });
    type('x');
    await timers.tick(1000);
    assert.equal(predictor.recorded.length + predictor.requests.length, 0);
  });

  const bad: [string, (uri: string, version: number) => NextEditSuggestion][] = [
    ['an older version', (uri, version) => renameBelow(uri, version - 1)],
    ['another document', (_uri, version) => renameBelow('file:///ws/other.ts', version)],
    ['no edits', (uri, version) => ({ uri, version, edits: [] })],
    ['a range past the end', (uri, version) => ({ uri, version, edits: [{ range: at(99, 0), newText: 'x' }] })],
    ['a character past the line', (uri, version) => ({ uri, version, edits: [{ range: at(6, 5), newText: 'x' }] })],
    ['a reversed range', (uri, version) => ({ uri, version, edits: [{ range: { start: pos(3, 5), end: pos(3, 1) }, newText: 'x' }] })],
    [
      'overlapping edits',
      (uri, version) => ({
        uri,
        version,
        edits: [
          { range: { start: pos(3, 0), end: pos(3, 8) }, newText: 'a' },
          { range: { start: pos(3, 4), end: pos(3, 9) }, newText: 'b' },
        ],
      }),
    ],
    ['a no-op', (uri, version) => ({ uri, version, edits: [{ range: { start: pos(5, 9), end: pos(5, 12) }, newText: 'sum' }] })],
    ['a huge insertion', (uri, version) => ({ uri, version, edits: [{ range: at(6, 1), newText: 'x'.repeat(MAX_SUGGESTION_CHARS + 1) }] })],
  ];
  for (const [name, make] of bad) {
    it(`a suggestion with ${name} is not shown`, async () => {
      const { editor, predictor, timers, session, type } = setup();
      editor.cursor = pos(1, 9);
      type('x');
      await timers.tick(100);
      predictor.last.answer(make(editor.uri, editor.version));
      await flush();
      assert.equal(stateOf(session).kind, 'idle');
    });
  }

  it('a predictor that throws or never answers: no suggestion, and the hung request is aborted', async () => {
    const { editor, predictor, timers, session, type, outcomes } = setup({ timeoutMs: 2000 });
    editor.cursor = pos(1, 9);
    type('x');
    await timers.tick(100);
    predictor.last.fail(new Error('model crashed'));
    await flush();
    assert.equal(stateOf(session).kind, 'idle');
    assert.equal(outcomes.at(-1)?.outcome, 'failed');
    type('y');
    await timers.tick(100);
    const hung = predictor.last;
    await timers.tick(2000);
    assert.equal(hung.signal.aborted, true);
  });

  it('a predictor whose recordChange throws does not break the editor', async () => {
    const { editor, predictor, timers, type } = setup();
    predictor.recordChange = () => {
      throw new Error('history full');
    };
    editor.cursor = pos(1, 9);
    assert.doesNotThrow(() => type('x'));
    await timers.tick(100);
    assert.equal(predictor.requests.length, 1);
  });

  it('not the active editor any more when the debounce ends: no request', async () => {
    const { predictor, timers, type, setActive } = setup();
    type('x');
    setActive(undefined);
    await timers.tick(1000);
    assert.equal(predictor.requests.length, 0);
  });
});

describe('next-edit placement: where the cursor lands after accepting', () => {
  const edits: PlainEdit[] = [
    { range: { start: pos(1, 2), end: pos(1, 5) }, newText: 'a\nbc' },
    { range: { start: pos(1, 8), end: pos(3, 1) }, newText: 'XYZ' },
  ];
  it('maps positions through multi-line edits', () => {
    assert.deepEqual(positionAfterEdits(edits, pos(0, 4)), pos(0, 4));
    assert.deepEqual(positionAfterEdits(edits, pos(1, 5)), pos(2, 2));
    assert.deepEqual(positionAfterEdits(edits, pos(3, 1)), pos(2, 8));
    assert.deepEqual(positionAfterEdits(edits, pos(4, 0)), pos(3, 0));
  });
  it('the end of the last edit, unless the model predicted a position', () => {
    assert.deepEqual(cursorAfterAccept({ uri: 'u', version: 1, edits }), pos(2, 8));
    assert.deepEqual(cursorAfterAccept({ uri: 'u', version: 1, edits, cursor: pos(7, 7) }), pos(7, 7));
  });
});

describe('scripted predictor (for the e2e mechanics tests)', () => {
  it('replaces the first occurrence once the trigger text is present, else nothing', async () => {
    const predictor = new ScriptedPredictor(parseScript(JSON.stringify({ rules: [{ when: 'qty', find: 'sum', replace: 'amount' }] })));
    const signal = new AbortController().signal;
    const request = { uri: 'u', languageId: 'ts', version: 3, text: SOURCE, cursor: pos(0, 0) };
    assert.equal(await predictor.predict(request, signal), undefined);
    const text = SOURCE.replace('let sum', 'let qty');
    const suggestion = await predictor.predict({ ...request, text }, signal);
    assert.deepEqual(suggestion, { uri: 'u', version: 3, edits: [{ range: { start: pos(3, 4), end: pos(3, 7) }, newText: 'amount' }] });
    assert.equal(await predictor.predict({ ...request, text: `${text}\namount` }, signal), undefined, 'done once the replacement is there');
  });
  it('rejects a rule without the strings it needs', () => {
    assert.throws(() => parseScript(JSON.stringify({ rules: [{ when: 'x', find: '', replace: 'y' }] })));
    assert.throws(() => parseScript(JSON.stringify({ rules: [{ when: 'x' }] })));
  });
});

describe('package.json: the keybindings are guarded by the context keys the shell sets', () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    contributes: { keybindings: { command: string; key: string; when?: string }[] };
  };
  const binding = (command: string) => manifest.contributes.keybindings.find((k) => k.command === command);
  it('Tab jumps, then accepts, only while a suggestion is visible and no ghost text is; Escape dismisses', () => {
    const jump = binding('enclave.nextEdit.jump');
    const accept = binding('enclave.nextEdit.accept');
    const dismiss = binding('enclave.nextEdit.dismiss');
    assert.equal(jump?.key, 'tab');
    assert.equal(accept?.key, 'tab');
    assert.equal(dismiss?.key, 'escape');
    for (const b of [jump, accept]) {
      assert.match(b!.when!, /enclave\.nextEdit\.visible/);
      assert.match(b!.when!, /!inlineSuggestionVisible/);
      assert.match(b!.when!, /editorTextFocus/);
    }
    assert.match(jump!.when!, /!enclave\.nextEdit\.jumped/);
    assert.match(accept!.when!, /(^|[^!])enclave\.nextEdit\.jumped/);
    assert.match(dismiss!.when!, /enclave\.nextEdit\.visible/);
  });
});
