// One Backend object that stays the same for the extension's lifetime while what serves it changes
// (local engine ↔ remote server, a separate chat model set or cleared). Whoever keeps a reference —
// the in-editor API server, a feature's closure — always reaches the backend the settings choose,
// never a disposed one; state listeners hear the new backend's state on a switch.
import {
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type Backend,
  type ChatRequest,
  type EmbedRequest,
  type EmbedResult,
  type EngineInfo,
  type EngineMetrics,
  type EngineState,
  type FimRequest,
  type GenerationResult,
  type RequestOptions,
  type StructuredRequest,
  type StructuredResult,
} from './engine/protocol';

type Target = Backend & { readonly currentState?: EngineState };

export class SwitchingBackend implements Backend {
  private target: Target;
  private detach: () => void;
  private state: EngineState;
  private readonly listeners = new Set<(state: EngineState) => void>();

  constructor(initial: Target) {
    this.target = initial;
    this.state = initial.currentState ?? { kind: 'stopped' };
    this.detach = initial.onState((s) => this.emit(s));
  }

  get kind(): 'local' | 'remote' {
    return this.target.kind;
  }

  /** The backend calls go to now. */
  get current(): Backend {
    return this.target;
  }

  get currentState(): EngineState {
    return this.state;
  }

  /** Sends calls to `next` from now on; listeners hear its state. The caller disposes the old one. */
  switchTo(next: Target): void {
    if (next === this.target) return;
    this.detach();
    this.target = next;
    this.detach = next.onState((s) => this.emit(s));
    this.emit(next.currentState ?? { kind: 'stopped' });
  }

  info(engine?: 'nextEdit'): Promise<EngineInfo> {
    return this.target.info(engine);
  }
  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.target.completeFim(request, options);
  }
  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.target.chat(request, options);
  }
  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    return this.target.generateStructured(request, options);
  }
  countTokens(text: string): Promise<number> {
    return this.target.countTokens(text);
  }
  async embed(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResult> {
    if (!this.target.embed) throw new EngineError('BAD_REQUEST', 'Embeddings need the local engine.');
    return this.target.embed(request, options);
  }
  setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    return this.target.setAdapters(adapters);
  }
  metrics(): Promise<EngineMetrics> {
    return this.target.metrics();
  }

  onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops re-emitting; the backends behind it belong to their owner, who disposes them. */
  async dispose(): Promise<void> {
    this.detach();
    this.listeners.clear();
  }

  private emit(state: EngineState): void {
    this.state = state;
    for (const listener of [...this.listeners]) listener(state);
  }
}

/** A backend that refuses every call with one explanation (a remote URL Enclave will not use). */
export class RefusingBackend implements Backend {
  readonly kind = 'remote' as const;
  readonly currentState: EngineState;

  constructor(private readonly message: string) {
    this.currentState = { kind: 'error', message };
  }

  private refuse(): Promise<never> {
    return Promise.reject(new EngineError('ENGINE_UNAVAILABLE', this.message));
  }
  info(): Promise<EngineInfo> {
    return this.refuse();
  }
  completeFim(): Promise<GenerationResult> {
    return this.refuse();
  }
  chat(): Promise<GenerationResult> {
    return this.refuse();
  }
  generateStructured(): Promise<StructuredResult> {
    return this.refuse();
  }
  countTokens(): Promise<number> {
    return this.refuse();
  }
  setAdapters(): Promise<AdapterSwitchResult> {
    return this.refuse();
  }
  metrics(): Promise<EngineMetrics> {
    return this.refuse();
  }
  onState(): () => void {
    return () => {};
  }
  async dispose(): Promise<void> {}
}
