// The one contract between Enclave's features and whatever runs the model.
// Imported by both sides of the engine process boundary (client and worker) and by the
// remote backend, so it holds plain data types only — no vscode, no node-llama-cpp.

/** How speculative decoding proposes tokens. `auto` = draft model when configured, else lookup. */
export type SpeculativeMode = 'auto' | 'draft' | 'lookup' | 'off';

/** FIM prompt families Enclave knows, detected from a model's special tokens. */
export type FimFamily = 'qwen' | 'deepseek' | 'codellama' | 'starcoder' | 'codestral';

export interface EngineSettings {
  modelPath: string;
  /** Optional draft model for speculative decoding; must share the target's vocabulary. */
  draftModelPath?: string;
  speculative: SpeculativeMode;
  contextSize: number;
  /** How many KV sequences (document prompt caches) the context holds. */
  sequences: number;
  /** CPU threads; 0 = choose from the machine's cores. */
  threads: number;
  batchSize: number;
  /** 'auto' picks CUDA / Vulkan / Metal when a working binary is present, else CPU. */
  gpu: 'auto' | 'cpu';
  adapters: AdapterSpec[];
}

export interface AdapterSpec {
  path: string;
  scale: number;
}

export type EngineState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'loading'; progress: number; file: string }
  | { kind: 'ready' }
  | { kind: 'error'; message: string }
  | { kind: 'crashed'; message: string; restartInMs?: number };

export interface EngineInfo {
  backend: 'local' | 'remote';
  /** 'cuda' | 'vulkan' | 'metal' | 'cpu' for the local engine; the server's URL for remote. */
  gpu: string;
  gpuDeviceNames: string[];
  layersOffloaded: number;
  totalLayers: number;
  vram: { total: number; used: number; free: number };
  ram: { total: number; used: number; free: number };
  cpuCores: number;
  threads: number;
  contextSize: number;
  sequences: number;
  modelPath: string;
  modelName: string;
  architecture: string;
  modelSizeBytes: number;
  fimFamily: FimFamily | null;
  /**
   * What the model file says about itself beyond its name (local engine): GGUF naming metadata
   * (basename, fine-tune, repository, base models) and the vocabulary's special tokens — what
   * next-edit prompt formats are detected from.
   */
  modelTags?: string[];
  draftModelPath?: string;
  speculative: SpeculativeMode;
  adapters: AdapterSpec[];
  loadTimeMs: number;
}

export interface RequestStats {
  /** Prompt tokens of this request. */
  promptTokens: number;
  /** Prompt tokens actually evaluated (not found in the sequence's KV cache). */
  evaluatedTokens: number;
  /** Prompt tokens reused from the KV cache. */
  reusedTokens: number;
  generatedTokens: number;
  /**
   * Speculative decoding: draft tokens accepted and rejected, and the measured speed-up of the
   * document's speculative rounds over its plain steps (per token; absent until both were timed).
   */
  draft?: { accepted: number; rejected: number; rounds: number; speedUp?: number };
  timeToFirstTokenMs: number;
  totalMs: number;
  /** Milliseconds the request waited in the scheduler queue. */
  queuedMs: number;
  stopReason: 'eos' | 'stop' | 'maxTokens' | 'maxTime' | 'abort';
}

export interface FimRequest {
  /** Key of the KV sequence to use — normally the document URI (the LRU prompt cache). */
  documentKey: string;
  /** The whole FIM prompt, special tokens written as text (built by completion/prompt.ts). */
  prompt: string;
  /**
   * 0 evaluates the prompt into the document's cache and generates nothing (a document opened or
   * switched to is warmed this way, so its first keystroke evaluates only what it changed).
   */
  maxTokens: number;
  /** Stop generating after this long (the anchors use ~500 ms for responsiveness). */
  maxTimeMs?: number;
  /** Text that ends generation (not included in the result). */
  stop?: string[];
  /** Overrides the engine's speculative mode for this request. */
  speculative?: SpeculativeMode;
  /**
   * Work that is not the editor's keystroke (the API server's requests): it pauses between
   * evaluation steps while an editor completion runs, as chat and review do.
   */
  yieldToEditor?: boolean;
  /**
   * A next-edit prompt (raw text, no FIM tokens needed): served by the next-edit model when one is
   * set apart, else by the completion model (default `completion`).
   */
  engine?: 'completion' | 'nextEdit';
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
  /** On an assistant message: the tools it called, each with the result the caller got back. */
  toolCalls?: ToolCallRecord[];
}

/** A tool the model may call (the language-model API's tools): its arguments as a JSON schema. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the arguments object; keywords a grammar cannot enforce are dropped. */
  parameters?: object;
}

/** A tool call the model made. */
export interface ToolCall {
  /** Unique within a conversation; the caller's result refers to it. */
  id: string;
  name: string;
  /** The arguments object, valid for the tool's schema (the grammar produced it). */
  arguments: unknown;
}

export interface ToolCallRecord extends ToolCall {
  /** What the tool returned (text); undefined when the caller sent none. */
  result?: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  /** Tools the model may call in its reply (the local engine only). */
  tools?: ToolSpec[];
  /** `required`: the reply must be a tool call (the grammar forces one); default `auto`. */
  toolMode?: 'auto' | 'required';
  /** With a separate chat model: `completion` asks the completion model instead (default `chat`). */
  engine?: 'chat' | 'completion';
  /** Overrides the engine's setting for this request; chat drafts only with a draft model, greedily. */
  speculative?: SpeculativeMode;
}

export interface StructuredRequest {
  messages: ChatMessage[];
  /** A JSON schema the output must match (node-llama-cpp's grammar support guarantees it). */
  schema: object;
  maxTokens: number;
  temperature?: number;
  seed?: number;
  /**
   * The model that answers (default `chat`): `nextEdit` is the next-edit model when one is set
   * apart, else the completion model; `completion` the completion model.
   */
  engine?: 'chat' | 'completion' | 'nextEdit';
  /** The KV sequence to reuse, e.g. a document's (default: the one structured requests share). */
  cacheKey?: string;
}

/** Texts to embed with the embedding model at `modelPath` (loaded on first use, kept while it is asked for). */
export interface EmbedRequest {
  modelPath: string;
  texts: string[];
}

export interface EmbedResult {
  /** One vector per text, in order; each of `dimensions` numbers. */
  vectors: number[][];
  dimensions: number;
}

export interface GenerationResult {
  text: string;
  stats: RequestStats;
  /** The tools the model called (chat with `tools` only); the reply ends after them. */
  toolCalls?: ToolCall[];
}

export interface StructuredResult extends GenerationResult {
  value: unknown;
}

export interface AdapterSwitchResult {
  adapters: AdapterSpec[];
  switchMs: number;
  modelReloaded: boolean;
}

export interface EngineMetrics {
  requests: number;
  cancelled: number;
  failed: number;
  promptTokens: number;
  evaluatedTokens: number;
  reusedTokens: number;
  generatedTokens: number;
  draftAccepted: number;
  draftRejected: number;
  /** The last measured speed-up of speculative decoding over plain decoding (see RequestStats.draft). */
  draftSpeedUp?: number;
  lastLatencyMs: number;
  lastTokensPerSecond: number;
  sequenceEvictions: number;
  restarts: number;
}

/** Metrics before the first request. */
export function emptyMetrics(): EngineMetrics {
  return {
    requests: 0,
    cancelled: 0,
    failed: 0,
    promptTokens: 0,
    evaluatedTokens: 0,
    reusedTokens: 0,
    generatedTokens: 0,
    draftAccepted: 0,
    draftRejected: 0,
    lastLatencyMs: 0,
    lastTokensPerSecond: 0,
    sequenceEvictions: 0,
    restarts: 0,
  };
}

/** Per-call options: cancellation and streaming. */
export interface RequestOptions {
  signal?: AbortSignal;
  onText?: (chunk: string) => void;
}

/**
 * What every feature talks to. Two implementations: the local engine process
 * (engine/client.ts) and a remote OpenAI-compatible server (engine/remote.ts).
 */
export interface Backend {
  readonly kind: 'local' | 'remote';
  /** The model's info; `nextEdit`: of the model that serves next-edit requests (the same one unless set apart). */
  info(engine?: 'nextEdit'): Promise<EngineInfo>;
  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult>;
  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult>;
  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult>;
  countTokens(text: string): Promise<number>;
  setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult>;
  /** Embeddings for the codebase index (the local engine only); yields to the editor's completions. */
  embed?(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResult>;
  metrics(): Promise<EngineMetrics>;
  /** Subscribe to state changes (starting, loading %, ready, error); returns an unsubscribe. */
  onState(listener: (state: EngineState) => void): () => void;
  dispose(): Promise<void>;
}

/** Errors that cross the process boundary carry a code so callers can react, not just print. */
export type EngineErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'MODEL_TOO_LARGE'
  | 'ADAPTER_MISMATCH'
  | 'DRAFT_MISMATCH'
  | 'EMBEDDING_MODEL_INVALID'
  | 'NO_FIM'
  | 'CANCELLED'
  | 'ENGINE_CRASHED'
  | 'ENGINE_UNAVAILABLE'
  | 'BAD_REQUEST'
  | 'INTERNAL';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
