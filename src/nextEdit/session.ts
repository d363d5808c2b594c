// The life of one next-edit suggestion, free of vscode: a change arrives → (debounce) → the
// predictor is asked for the active editor's cursor → the answer is checked and placed → shown at
// the cursor (ghost text) or elsewhere (decorations) → Tab jumps there → Tab accepts, Escape
// dismisses. Any change of the document ends it at once; the next change aborts a request in flight.
import type { InlineArbiter } from './arbiter';
import { isEditStorm, longLineNear, suggestionRefusal, watchRefusal, type DocumentFacts } from './guards';
import { cursorOnTarget, placeSuggestion, type Placement } from './placement';
import type { DocumentChange, NextEditPredictor, NextEditSuggestion, Position, Range } from './types';

export type SessionState =
  | { kind: 'idle' }
  | { kind: 'debouncing'; uri: string; version: number }
  | { kind: 'requesting'; uri: string; version: number }
  | { kind: 'shown'; suggestion: NextEditSuggestion; placement: Placement; jumped: boolean };

/** How a suggestion (or an attempt at one) ended; for the log and the tests. */
export type Outcome =
  'accepted' | 'dismissed' | 'invalidated' | 'aborted' | 'none' | 'refused' | 'stale' | 'failed' | 'yielded to completion';

/** The document of the active editor, read lazily (the text is copied only for a request). */
export interface EditorDocument extends DocumentFacts {
  uri: string;
  languageId: string;
  version: number;
  lineText(line: number): string;
  text(): string;
  textIn(range: Range): string;
}

export interface SessionHost {
  /** The active text editor's document and primary cursor, if there is one. */
  activeEditor(): { document: EditorDocument; cursor: Position } | undefined;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SessionOptions {
  predictor: NextEditPredictor;
  host: SessionHost;
  arbiter: InlineArbiter;
  enabled(): boolean;
  debounceMs(): number;
  /** A request taking longer is aborted (the editor never waits on it, but the engine would). */
  requestTimeoutMs?: number;
  timers?: Timers;
  onState?(state: SessionState): void;
  onOutcome?(outcome: Outcome, detail: string): void;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export class NextEditSession {
  private current: SessionState = { kind: 'idle' };
  private timer: unknown;
  private inFlight: AbortController | undefined;
  private readonly timers: Timers;

  constructor(private readonly options: SessionOptions) {
    this.timers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  get state(): SessionState {
    return this.current;
  }

  /**
   * A document changed (one onDidChangeTextDocument event). Ends whatever concerned that document,
   * records the change, and — unless it was an undo/redo or a storm — asks again after the debounce.
   */
  documentChanged(
    facts: DocumentFacts & { uri: string },
    readChange: () => DocumentChange,
    reason: { undoRedo: boolean } = { undoRedo: false },
  ): void {
    const concerned = this.concerns(facts.uri);
    // Unwatched documents (output channels, git:, huge files) pass silently: logging here would
    // change the log's own document and come back.
    if (watchRefusal(facts)) return concerned ? this.end('invalidated', 'no longer watched') : undefined;
    // One suggestion at a time: the newest change wins, in whichever document it happened.
    if (this.current.kind !== 'idle') this.end(concerned ? 'invalidated' : 'dismissed', 'the document changed');
    if (!this.options.enabled()) return;
    // Read only for watched documents: it copies the whole text.
    const change = readChange();
    try {
      this.options.predictor.recordChange(change);
    } catch (err) {
      this.outcome('failed', `recordChange: ${String(err)}`);
    }
    if (reason.undoRedo) return this.outcome('none', 'undo/redo');
    if (isEditStorm(change)) return this.outcome('refused', 'edit storm');
    this.current = { kind: 'debouncing', uri: change.uri, version: change.version };
    this.timer = this.timers.setTimeout(() => void this.request(change.uri, change.version), Math.max(0, this.options.debounceMs()));
    this.emit();
  }

  /** The cursor moved: on the suggestion's lines it counts as jumped (Tab accepts), elsewhere not. */
  selectionChanged(uri: string, cursor: Position): void {
    const state = this.current;
    if (state.kind !== 'shown' || state.suggestion.uri !== uri || state.placement.kind !== 'decorations') return;
    const jumped = cursorOnTarget(state.placement, cursor);
    if (jumped === state.jumped) return;
    this.current = { ...state, jumped };
    this.emit();
  }

  /** Another editor (or none) became active: a suggestion for the previous one is gone. */
  activeEditorChanged(uri: string | undefined): void {
    // No active editor is focus moving elsewhere for a moment (a panel, a notification, a language
    // server's first answers), not the user leaving the document: only another editor dismisses.
    if (uri === undefined) return;
    if (this.current.kind !== 'idle' && !this.concerns(uri)) this.end('dismissed', 'editor changed');
  }

  /** Tab, first press: where to move the cursor (undefined: nothing to jump to). */
  jump(): Position | undefined {
    const state = this.current;
    if (state.kind !== 'shown' || state.placement.kind !== 'decorations' || state.jumped) return undefined;
    this.current = { ...state, jumped: true };
    this.emit();
    return state.placement.target;
  }

  /**
   * Tab, second press: the suggestion exactly as shown if the document is still at its version,
   * else nothing (and the suggestion ends). The caller applies the edits in one undo step.
   */
  accept(uri: string, version: number): NextEditSuggestion | undefined {
    const state = this.current;
    if (state.kind !== 'shown' || !state.jumped) return undefined;
    if (state.suggestion.uri !== uri || state.suggestion.version !== version) {
      this.end('stale', `document at version ${version}, suggestion for ${state.suggestion.version}`);
      return undefined;
    }
    this.end('accepted', `${state.suggestion.edits.length} edit(s)`);
    return state.suggestion;
  }

  dismiss(reason = 'escape'): void {
    if (this.current.kind !== 'idle') this.end('dismissed', reason);
  }

  dispose(): void {
    this.end('aborted', 'disposed');
  }

  private concerns(uri: string): boolean {
    const state = this.current;
    if (state.kind === 'idle') return false;
    return (state.kind === 'shown' ? state.suggestion.uri : state.uri) === uri;
  }

  private async request(uri: string, version: number): Promise<void> {
    this.timer = undefined;
    const active = this.options.host.activeEditor();
    if (!active || active.document.uri !== uri || active.document.version !== version) return this.end('none', 'not the active editor');
    const { document, cursor } = active;
    const longLine = longLineNear((line) => document.lineText(line).length, document.lineCount, cursor);
    if (longLine !== undefined) return this.end('refused', `line ${longLine + 1} is too long`);
    const controller = new AbortController();
    this.inFlight = controller;
    const timeout = this.timers.setTimeout(() => controller.abort(), this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    this.current = { kind: 'requesting', uri, version };
    this.emit();
    let suggestion: NextEditSuggestion | undefined;
    try {
      const request = { uri, languageId: document.languageId, version, text: document.text(), cursor };
      suggestion = await this.options.predictor.predict(request, controller.signal);
    } catch (err) {
      if (this.inFlight === controller) this.end(controller.signal.aborted ? 'aborted' : 'failed', String(err));
      return;
    } finally {
      this.timers.clearTimeout(timeout);
    }
    // A newer change, an editor switch or a dispose took over while the model was working.
    if (this.inFlight !== controller) return;
    this.inFlight = undefined;
    if (controller.signal.aborted) return this.end('aborted', 'timed out');
    if (!suggestion) return this.end('none', 'the predictor had nothing');
    this.show(suggestion);
  }

  private show(suggestion: NextEditSuggestion): void {
    const active = this.options.host.activeEditor();
    if (!active || active.document.uri !== suggestion.uri) return this.end('stale', 'editor changed');
    const { document, cursor } = active;
    const refusal = suggestionRefusal(suggestion, {
      uri: document.uri,
      version: document.version,
      lineCount: document.lineCount,
      lineLength: (line) => document.lineText(line).length,
      textIn: (range) => document.textIn(range),
    });
    if (refusal) return this.end(refusal === 'stale' ? 'stale' : 'refused', refusal);
    if (!this.options.arbiter.nextEditMayShow(suggestion.uri, suggestion.version)) return this.end('yielded to completion', '');
    const placement = placeSuggestion(suggestion, cursor, (line) => document.lineText(line));
    this.current = { kind: 'shown', suggestion, placement, jumped: placement.kind === 'inline' || cursorOnTarget(placement, cursor) };
    this.emit();
  }

  private end(outcome: Outcome, detail: string): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
    this.inFlight = undefined;
    const wasShown = this.current.kind === 'shown';
    if (wasShown) this.options.arbiter.releaseNextEdit();
    const changed = this.current.kind !== 'idle';
    this.current = { kind: 'idle' };
    this.outcome(outcome, detail);
    if (changed) this.emit();
  }

  private outcome(outcome: Outcome, detail: string): void {
    this.options.onOutcome?.(outcome, detail);
  }

  private emit(): void {
    this.options.onState?.(this.current);
  }
}
