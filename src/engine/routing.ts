// A Backend over up to three engines: completion (FIM, token counting, adapters) on one model,
// chat and structured generation (review) on a separate chat model, next-edit prompts on a
// separate next-edit model. Pure: it only forwards calls.
import * as path from 'node:path';

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
} from './protocol';

/** The completion engine's info, plus the models chat / review and next-edit use ('' = the completion model). */
export interface RoutedEngineInfo extends EngineInfo {
  chatModelPath: string;
  nextEditModelPath: string;
}

/** A model run beside the completion model, in its own engine (started on first use). */
export interface SideEngine {
  backend: Backend;
  path: string;
}

/** Which side engine a state or a request belongs to, and how its messages are marked. */
type Side = 'chat' | 'nextEdit';
const sideLabels: Record<Side, string> = { chat: 'Chat model', nextEdit: 'Next-edit model' };

const rank: Record<EngineState['kind'], number> = { stopped: 0, ready: 1, starting: 2, loading: 3, crashed: 4, error: 5 };

/**
 * Routes each request to the engine of its model: FIM, token counting and adapters to the
 * completion engine; chat and structured output (review) to the chat engine when a chat model is
 * set apart; next-edit prompts to the next-edit engine when a next-edit model is set apart. A side
 * engine starts lazily (on its first request) and is counted in metrics only once used.
 */
export class RoutingBackend implements Backend {
  readonly kind: 'local' | 'remote';
  private readonly listeners = new Set<(state: EngineState) => void>();
  private readonly unsubscribe = new Map<'completion' | Side, () => void>();
  private completionState: EngineState = { kind: 'stopped' };
  private readonly sideStates: Record<Side, EngineState> = { chat: { kind: 'stopped' }, nextEdit: { kind: 'stopped' } };
  private merged: EngineState = { kind: 'stopped' };
  /** The side engines asked anything (they start lazily; metrics() must not start them). */
  private readonly used = new Set<Side>();
  private readonly sides: Partial<Record<Side, SideEngine>>;

  constructor(
    readonly completion: Backend,
    sides: { chat?: SideEngine; nextEdit?: SideEngine },
  ) {
    this.kind = completion.kind;
    this.sides = { ...sides };
    this.unsubscribe.set(
      'completion',
      completion.onState((s) => {
        this.completionState = s;
        this.emit();
      }),
    );
    for (const side of ['chat', 'nextEdit'] as const) {
      const engine = this.sides[side];
      if (!engine) continue;
      this.unsubscribe.set(
        side,
        engine.backend.onState((s) => {
          this.sideStates[side] = s;
          this.emit();
        }),
      );
    }
  }

  get chatModelPath(): string {
    return this.sides.chat?.path ?? '';
  }

  get nextEditModelPath(): string {
    return this.sides.nextEdit?.path ?? '';
  }

  /** The completion engine's info, or with `nextEdit` the info of the model that serves next-edit requests. */
  async info(engine?: 'nextEdit'): Promise<RoutedEngineInfo> {
    const from = engine === 'nextEdit' ? this.side('nextEdit') : this.completion;
    return { ...(await from.info()), chatModelPath: this.chatModelPath, nextEditModelPath: this.nextEditModelPath };
  }

  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return (request.engine === 'nextEdit' ? this.side('nextEdit') : this.completion).completeFim(request, options);
  }

  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    return (request.engine === 'completion' ? this.completion : this.side('chat')).chat(request, options);
  }

  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    const engine = request.engine ?? 'chat';
    return (engine === 'completion' ? this.completion : this.side(engine)).generateStructured(request, options);
  }

  countTokens(text: string): Promise<number> {
    return this.completion.countTokens(text);
  }

  setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    return this.completion.setAdapters(adapters);
  }

  /** Embeddings run in the completion engine's process (the one always there). */
  async embed(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResult> {
    if (!this.completion.embed) throw new EngineError('BAD_REQUEST', 'This backend does not compute embeddings.');
    return this.completion.embed(request, options);
  }

  /** All engines' counters summed (a side engine's only once it has been used). */
  async metrics(): Promise<EngineMetrics> {
    const completion = await this.completion.metrics();
    const sum = { ...completion };
    let speedUp = completion.draftSpeedUp;
    for (const side of this.used) {
      const other = await this.sides[side]!.backend.metrics();
      for (const key of Object.keys(sum) as Array<keyof EngineMetrics>) {
        if (key !== 'lastLatencyMs' && key !== 'lastTokensPerSecond' && key !== 'draftSpeedUp') sum[key] = sum[key] + other[key];
      }
      // A ratio is not summed: the completion engine's, else a side engine's.
      speedUp ??= other.draftSpeedUp;
    }
    if (speedUp !== undefined) sum.draftSpeedUp = speedUp;
    return sum;
  }

  /**
   * One state for all engines: the most urgent (error > crashed > loading > starting > ready >
   * stopped), a side engine's marked as such. A side engine not yet started does not hide a ready
   * completion engine.
   */
  onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get currentState(): EngineState {
    return this.merged;
  }

  /**
   * Lets go of a side engine (its owner disposes it): from now on its requests go to the
   * completion engine and its state no longer counts, so those who subscribed here keep hearing
   * about the engines they still use.
   */
  release(side: Side): void {
    this.unsubscribe.get(side)?.();
    this.unsubscribe.delete(side);
    delete this.sides[side];
    this.used.delete(side);
    this.sideStates[side] = { kind: 'stopped' };
    this.emit();
  }

  /** Lets go of the chat engine (see release). */
  releaseChat(): void {
    this.release('chat');
  }

  /** Stops listening to the engines without disposing them (their owner keeps them). */
  detach(): void {
    for (const u of this.unsubscribe.values()) u();
    this.unsubscribe.clear();
    this.listeners.clear();
  }

  async dispose(): Promise<void> {
    this.detach();
    await Promise.all([this.completion.dispose(), ...Object.values(this.sides).map((s) => s.backend.dispose())]);
  }

  /** The side engine for `side` (marked used), or the completion engine when none is set apart. */
  private side(side: Side): Backend {
    const engine = this.sides[side];
    if (!engine) return this.completion;
    this.used.add(side);
    return engine.backend;
  }

  private emit(): void {
    let next = this.completionState;
    for (const side of ['chat', 'nextEdit'] as const) next = mergeStates(next, this.sideStates[side], sideLabels[side]);
    if (JSON.stringify(next) === JSON.stringify(this.merged)) return;
    this.merged = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}

/** The combined state of the engines so far and a side engine (see RoutingBackend.onState). */
export function mergeStates(current: EngineState, side: EngineState, label = sideLabels.chat): EngineState {
  if (rank[side.kind] <= rank[current.kind]) return current;
  switch (side.kind) {
    case 'error':
      return { kind: 'error', message: `${label}: ${side.message}` };
    case 'crashed':
      return { ...side, message: `${label}: ${side.message}` };
    default:
      return side;
  }
}

/**
 * A model (chat, next-edit) to run beside the completion model, or '' when the completion model
 * serves (none set, or the same file under another spelling).
 */
export function separateModel(modelPath: string, completionPath: string): string {
  const model = modelPath.trim();
  if (!model) return '';
  const completion = completionPath.trim();
  return completion && path.resolve(model) === path.resolve(completion) ? '' : model;
}
