// What Enclave records about its own work, as plain data. Everything stays on this machine (the
// store writes one JSON file under the extension's global storage); nothing here knows vscode.

/** Which language, model and adapter an event belongs to ('' when it does not apply: no adapter). */
export interface Dimensions {
  language: string;
  model: string;
  adapter: string;
}

export type Dimension = keyof Dimensions;

/** Where a shown completion came from: the model, the completion cache, or typing along a cached one. */
export type ShownSource = 'model' | 'cache' | 'typeThrough';

export interface ShownEvent extends Dimensions {
  kind: 'shown';
  /** Epoch milliseconds. */
  t: number;
  source: ShownSource;
  /** From the keystroke to the items (debounce excluded). */
  latencyMs: number;
  /** The engine's time to first token, for a model-served completion. */
  firstTokenMs?: number;
  generatedTokens?: number;
  /** The engine's whole generation time (prompt evaluation included). */
  generationMs?: number;
  /** What the engine reported of speculative decoding (RequestStats.draft: accepted, rejected, …). */
  draft?: Record<string, number>;
  /** Characters of the first item. */
  chars: number;
}

export interface AcceptedEvent extends Dimensions {
  kind: 'accepted';
  t: number;
  /** Characters inserted by this acceptance. */
  chars: number;
  /** A word or a line of the suggestion, not all of it. */
  partial: boolean;
}

/** Checked a while (30 s) after an acceptance: how much of what was inserted is still there. */
export interface RetainedEvent extends Dimensions {
  kind: 'retained';
  t: number;
  chars: number;
  retained: number;
}

export type GenerationFeature = 'chat' | 'review';

/** One chat or review generation. */
export interface GenerationEvent extends Dimensions {
  kind: 'generation';
  t: number;
  feature: GenerationFeature;
  tokens: number;
  ms: number;
  firstTokenMs: number;
}

export interface EngineEvent extends Dimensions {
  kind: 'engine';
  t: number;
  what: 'restart' | 'error';
  message?: string;
}

export type MetricEvent = ShownEvent | AcceptedEvent | RetainedEvent | GenerationEvent | EngineEvent;

export const EVENT_KINDS: readonly MetricEvent['kind'][] = ['shown', 'accepted', 'retained', 'generation', 'engine'];
