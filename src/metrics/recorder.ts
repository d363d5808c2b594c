// The vscode shell that feeds the metrics store: completions shown and accepted (the provider's
// observer), partial accepts and retention (document edits), chat/review throughput and failed
// calls (MeteredBackend), engine restarts (state events). Persists the store under globalStorage.
import * as path from 'node:path';

import * as vscode from 'vscode';

import type { AcceptedSuggestion, CompletionObserver } from '../completion/provider';
import type { CompletionOutcome } from '../completion/core';
import type { Config } from '../config';
import type { Backend, EngineInfo, EngineState } from '../engine/protocol';
import type { Logger } from '../logger';
import type { Dimensions, MetricEvent } from './events';
import { loadVersioned, writeAtomic, writeAtomicSync } from './jsonFile';
import { MeteredBackend } from './metered';
import { partlyAcceptedChars, retainedChars, shiftRange, type TrackedRange } from './retention';
import { METRICS_FORMAT, MetricsStore, validateMetrics } from './store';

/** How long after an acceptance its text is checked for what is still there. */
export const RETENTION_DELAY_MS = 30_000;
const SAVE_DELAY_MS = 2_000;

interface Tracked {
  uri: string;
  range: TrackedRange;
  text: string;
  dimensions: Dimensions;
}

export class MetricsRecorder implements CompletionObserver, vscode.Disposable {
  private current = new MetricsStore();
  private readonly listeners = new Set<() => void>();
  readonly file: string;
  /** Resolves once the file has been read (events recorded before are kept and added to it). */
  readonly loaded: Promise<void>;
  private pending: MetricEvent[] | undefined = [];
  private saveTimer?: ReturnType<typeof setTimeout>;
  private dirty = false;
  private info?: { model: string; adapter: string };
  private readonly tracked = new Set<Tracked>();
  /** The last suggestion shown per document (for partial accepts). */
  private readonly shownNow = new Map<string, { offset: number; text: string; languageId: string }>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    storageFolder: string,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.file = path.join(storageFolder, 'metrics.json');
    this.loaded = this.load();
    this.subscriptions.push(vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)));
  }

  get store(): MetricsStore {
    return this.current;
  }

  /** Fires after each recorded event and after a clear. */
  onDidChange(listener: () => void): vscode.Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private changed(): void {
    this.scheduleSave();
    for (const listener of this.listeners) listener();
  }

  get enabled(): boolean {
    return this.config.metrics.enabled;
  }

  /** `backend` with chat/review/failed calls recorded; follows its state for restarts and the model name. */
  meter(backend: Backend): { backend: Backend; dispose: () => void } {
    const refresh = () =>
      backend.info().then(
        (info) => (this.info = dimensionsOf(info)),
        () => undefined,
      );
    const unsubscribe = backend.onState((state: EngineState) => {
      if (state.kind === 'ready') void refresh();
      else if (state.kind === 'crashed')
        this.record({ kind: 'engine', t: Date.now(), what: 'restart', message: state.message, language: '', ...this.dimensions() });
      else if (state.kind === 'error')
        this.record({ kind: 'engine', t: Date.now(), what: 'error', message: state.message, language: '', ...this.dimensions() });
    });
    const metered = new MeteredBackend(backend, {
      enabled: () => this.enabled,
      record: (e) => this.record(e),
      dimensions: () => this.dimensions(),
    });
    return { backend: metered, dispose: unsubscribe };
  }

  dimensions(): { model: string; adapter: string } {
    return this.info ?? { model: 'unknown', adapter: '' };
  }

  record(event: MetricEvent): void {
    if (!this.enabled) return;
    if (this.pending) this.pending.push(event);
    else this.store.record(event);
  }

  shown(document: { languageId: string; uri: string }, outcome: CompletionOutcome): void {
    if (outcome.source !== 'model' && outcome.source !== 'cache' && outcome.source !== 'typeThrough') return;
    const first = outcome.items[0];
    if (first) this.shownNow.set(document.uri, { offset: first.start, text: first.text, languageId: document.languageId });
    const stats = outcome.source === 'model' ? outcome.stats : undefined;
    this.record({
      kind: 'shown',
      t: Date.now(),
      source: outcome.source,
      latencyMs: outcome.totalMs - outcome.debounceMs,
      firstTokenMs: stats?.timeToFirstTokenMs,
      generatedTokens: stats?.generatedTokens,
      generationMs: stats?.totalMs,
      draft: stats?.draft && { ...stats.draft },
      chars: first?.text.length ?? 0,
      language: document.languageId,
      ...this.dimensions(),
    });
  }

  accepted(suggestion: AcceptedSuggestion): void {
    this.shownNow.delete(suggestion.uri);
    this.acceptedText(suggestion, false);
  }

  private acceptedText(s: AcceptedSuggestion, partial: boolean): void {
    const dimensions = { language: s.languageId, ...this.dimensions() };
    this.record({ kind: 'accepted', t: Date.now(), chars: s.text.length, partial, ...dimensions });
    if (!this.enabled || s.text.length === 0) return;
    const tracked: Tracked = { uri: s.uri, range: { start: s.offset, end: s.offset + s.text.length }, text: s.text, dimensions };
    this.tracked.add(tracked);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.checkRetention(tracked);
    }, RETENTION_DELAY_MS);
    this.timers.add(timer);
  }

  private checkRetention(tracked: Tracked): void {
    this.tracked.delete(tracked);
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === tracked.uri);
    if (!document) return; // Closed without saving what is there: nothing to compare.
    const now = document.getText().slice(tracked.range.start, tracked.range.end);
    const retained = retainedChars(tracked.text, now);
    this.record({ kind: 'retained', t: Date.now(), chars: tracked.text.length, retained, ...tracked.dimensions });
  }

  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    const uri = e.document.uri.toString();
    for (const change of e.contentChanges) {
      const edit = { offset: change.rangeOffset, removed: change.rangeLength, inserted: change.text.length };
      for (const tracked of this.tracked) if (tracked.uri === uri) tracked.range = shiftRange(tracked.range, edit);
      const shown = this.shownNow.get(uri);
      if (!shown) continue;
      const chars = partlyAcceptedChars(shown, { offset: change.rangeOffset, removed: change.rangeLength, text: change.text });
      if (chars > 0) {
        this.acceptedText({ languageId: shown.languageId, uri, offset: shown.offset, text: change.text }, true);
        this.shownNow.set(uri, { ...shown, offset: shown.offset + chars, text: shown.text.slice(chars) });
      } else if (change.text.length !== 1) this.shownNow.delete(uri);
    }
  }

  /** Forgets everything recorded and writes the empty store. */
  async clear(): Promise<void> {
    await this.loaded;
    this.current.clear();
    await this.save();
  }

  private async load(): Promise<void> {
    try {
      const result = await loadVersioned(this.file, METRICS_FORMAT, validateMetrics);
      if (result.kind === 'loaded') this.current = new MetricsStore(result.data);
      if (result.kind === 'setAside') {
        this.log.warn(`metrics file set aside (${result.reason}): ${result.setAsidePath}`);
        void vscode.window.showWarningMessage(
          `Enclave could not read its metrics file (${result.reason}). It was kept as ${path.basename(result.setAsidePath)} and a new one started.`,
        );
      }
    } catch (err) {
      this.log.warn(`metrics not loaded: ${String(err)}`);
    }
    const pending = this.pending ?? [];
    this.pending = undefined;
    this.current.onDidChange(() => this.changed());
    for (const event of pending) this.store.record(event);
  }

  private scheduleSave(): void {
    this.dirty = true;
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, SAVE_DELAY_MS);
  }

  async save(): Promise<void> {
    this.dirty = false;
    try {
      await writeAtomic(this.file, this.store.toJSON());
    } catch (err) {
      this.log.warn(`metrics not saved: ${String(err)}`);
    }
  }

  dispose(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    if (this.dirty && !this.pending) {
      try {
        writeAtomicSync(this.file, this.store.toJSON());
      } catch (err) {
        this.log.warn(`metrics not saved: ${String(err)}`);
      }
    }
    for (const s of this.subscriptions) s.dispose();
    for (const timer of this.timers) clearTimeout(timer);
  }
}

function dimensionsOf(info: EngineInfo): { model: string; adapter: string } {
  return {
    model: info.modelName || path.basename(info.modelPath),
    adapter: info.adapters.map((a) => path.basename(a.path).replace(/\.gguf$/i, '')).join('+'),
  };
}
