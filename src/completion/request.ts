// What the completion core is asked and what it answers, as plain data: a keystroke's request, the
// items and outcome it gets back, the settings the core reads and the prompt-chunk source it calls.
// core.ts re-exports all of it, so callers import from the core.
import type { RequestStats } from '../engine/protocol';
import { NUMBER_SETTINGS, OTHER_DEFAULTS, type ConfigSnapshot } from '../settings';
import type { FileChunk } from './templates';

/** What the core reads of the completion settings (settings.ts defines them; the shell decides the rest). */
export type CompletionSettings = Omit<ConfigSnapshot['completion'], 'enabled' | 'languages' | 'warmOnOpen' | 'definitions'>;

/** The settings' defaults (settings.ts holds them, package.json states the same). */
export const defaultCompletionSettings: CompletionSettings = {
  maxLines: NUMBER_SETTINGS['completion.maxLines'].default,
  maxTokens: NUMBER_SETTINGS['completion.maxTokens'].default,
  maxTimeMs: NUMBER_SETTINGS['completion.maxTimeMs'].default,
  contextTokens: NUMBER_SETTINGS['completion.contextTokens'].default,
  extraContext: OTHER_DEFAULTS['completion.extraContext'],
  debounceMs: NUMBER_SETTINGS['completion.debounceMs'].default,
  speculative: OTHER_DEFAULTS['completion.speculative'],
};

export interface CompletionRequest {
  text: string;
  offset: number;
  languageId: string;
  /** Document URI: the engine's KV sequence key and the key for leaving the file out of extra context. */
  uri: string;
  /** Path shown to the model (workspace-relative when possible); defaults to the URI's last segment. */
  path?: string;
  repoName?: string;
  trigger: 'automatic' | 'manual';
  /** The suggest widget's selected item (offsets into `text`): completions extend it. */
  selected?: { start: number; end: number; text: string };
  tabSize?: number;
}

/** Insert `text` replacing document offsets [start, end). */
export interface CompletionItem {
  text: string;
  start: number;
  end: number;
}

export type CompletionSource = 'model' | 'cache' | 'typeThrough' | 'skipped' | 'cancelled' | 'error';

export interface CompletionOutcome {
  items: CompletionItem[];
  source: CompletionSource;
  /** The extension's own time: total minus engine calls, debounce wait and waiting for model info. */
  overheadMs: number;
  modelMs: number;
  debounceMs: number;
  totalMs: number;
  modelCalls: number;
  /** Engine stats of the (last) model call. */
  stats?: RequestStats;
  /** Characters the user typed along a cached suggestion (type-through). */
  typed?: number;
  error?: string;
  /** Why an automatic trigger was skipped. */
  reason?: string;
}

export type CompletionEvent =
  { kind: 'generating' } | { kind: 'done'; latencyMs: number; tokensPerSecond: number } | { kind: 'error'; message: string };

/**
 * A source of prompt chunks that may need a moment (a language server): `prepare` starts with the
 * request and is awaited before the prompt is built, so it must settle within its own small budget;
 * `chunks` answers at once with what it has.
 */
export interface CompletionContextSource {
  prepare(request: CompletionRequest, text: string, offset: number, signal: AbortSignal): Promise<void>;
  chunks(request: CompletionRequest, text: string, offset: number): readonly FileChunk[];
}
