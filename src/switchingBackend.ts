// One Backend object that stays the same for the extension's lifetime while what serves it changes
// (local engine ↔ remote server, a separate chat model set or cleared). Whoever keeps a reference —
// the in-editor API server, a feature's closure — always reaches the backend the settings choose,
// never a disposed one; state listeners hear the new backend's state on a switch.
import {
  EngineError,
  type AdapterSwitchResult,
  type Backend,
  type EngineInfo,
  type EngineMetrics,
  type EngineState,
  type GenerationResult,
  type StructuredResult,
} from './engine/protocol';
import { ForwardingBackend } from './engine/forwarding';

type Target = Backend & { readonly currentState?: EngineState };

export class SwitchingBackend extends ForwardingBackend {
  private active: Target;
  private detach: () => void;
  private state: EngineState;
  private readonly listeners = new Set<(state: EngineState) => void>();

  constructor(initial: Target) {
    super();
    this.active = initial;
    this.state = initial.currentState ?? { kind: 'stopped' };
    this.detach = initial.onState((s) => this.emit(s));
  }

  protected target(): Backend {
    return this.active;
  }

  /** The backend calls go to now. */
  get current(): Backend {
    return this.active;
  }

  get currentState(): EngineState {
    return this.state;
  }

  /** Sends calls to `next` from now on; listeners hear its state. The caller disposes the old one. */
  switchTo(next: Target): void {
    if (next === this.active) return;
    this.detach();
    this.active = next;
    this.detach = next.onState((s) => this.emit(s));
    this.emit(next.currentState ?? { kind: 'stopped' });
  }

  override onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops re-emitting; the backends behind it belong to their owner, who disposes them. */
  override async dispose(): Promise<void> {
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
