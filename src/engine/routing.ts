// A Backend over two engines: completion (FIM, token counting, adapters) on one model, chat and
// structured generation (review) on a separate chat model. Pure: it only forwards calls.
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

/** The completion engine's info, plus the model chat and review use. */
export interface RoutedEngineInfo extends EngineInfo {
  chatModelPath: string;
}

const rank: Record<EngineState['kind'], number> = { stopped: 0, ready: 1, starting: 2, loading: 3, crashed: 4, error: 5 };

export class RoutingBackend implements Backend {
  readonly kind: 'local' | 'remote';
  private readonly listeners = new Set<(state: EngineState) => void>();
  private readonly unsubscribe: Array<() => void>;
  private completionState: EngineState = { kind: 'stopped' };
  private chatState: EngineState = { kind: 'stopped' };
  private merged: EngineState = { kind: 'stopped' };
  /** Whether chat has been asked anything (the chat engine starts lazily; metrics() must not start it). */
  private chatUsed = false;

  constructor(
    readonly completion: Backend,
    readonly chatBackend: Backend,
    readonly chatModelPath: string,
  ) {
    this.kind = completion.kind;
    this.unsubscribe = [
      completion.onState((s) => {
        this.completionState = s;
        this.emit();
      }),
      chatBackend.onState((s) => {
        this.chatState = s;
        this.emit();
      }),
    ];
  }

  async info(): Promise<RoutedEngineInfo> {
    return { ...(await this.completion.info()), chatModelPath: this.chatModelPath };
  }

  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.completion.completeFim(request, options);
  }

  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    if (request.engine === 'completion') return this.completion.chat(request, options);
    this.chatUsed = true;
    return this.chatBackend.chat(request, options);
  }

  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    this.chatUsed = true;
    return this.chatBackend.generateStructured(request, options);
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

  /** Both engines' counters summed (the chat engine's only once it has been used). */
  async metrics(): Promise<EngineMetrics> {
    const completion = await this.completion.metrics();
    if (!this.chatUsed) return completion;
    const chat = await this.chatBackend.metrics();
    const sum = { ...completion };
    for (const key of Object.keys(sum) as Array<keyof EngineMetrics>) {
      if (key !== 'lastLatencyMs' && key !== 'lastTokensPerSecond' && key !== 'draftSpeedUp') sum[key] = completion[key] + chat[key];
    }
    // A ratio is not summed: the completion engine's, else the chat engine's.
    const speedUp = completion.draftSpeedUp ?? chat.draftSpeedUp;
    if (speedUp !== undefined) sum.draftSpeedUp = speedUp;
    return sum;
  }

  /**
   * One state for both engines: the more urgent of the two (error > crashed > loading > starting >
   * ready > stopped), the chat engine's marked as such. A chat engine not yet started does not
   * hide a ready completion engine.
   */
  onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get currentState(): EngineState {
    return this.merged;
  }

  /**
   * Lets go of the chat engine (its owner disposes it): from now on the state is the completion
   * engine's alone, so those who subscribed here keep hearing about the engine they still use.
   */
  releaseChat(): void {
    this.unsubscribe[1]();
    this.chatState = { kind: 'stopped' };
    this.emit();
  }

  /** Stops listening to both engines without disposing them (their owner keeps them). */
  detach(): void {
    for (const u of this.unsubscribe) u();
    this.listeners.clear();
  }

  async dispose(): Promise<void> {
    this.detach();
    await Promise.all([this.completion.dispose(), this.chatBackend.dispose()]);
  }

  private emit(): void {
    const next = mergeStates(this.completionState, this.chatState);
    if (JSON.stringify(next) === JSON.stringify(this.merged)) return;
    this.merged = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}

/** The combined state of a completion engine and a chat engine (see RoutingBackend.onState). */
export function mergeStates(completion: EngineState, chat: EngineState): EngineState {
  if (rank[chat.kind] <= rank[completion.kind]) return completion;
  switch (chat.kind) {
    case 'error':
      return { kind: 'error', message: `Chat model: ${chat.message}` };
    case 'crashed':
      return { ...chat, message: `Chat model: ${chat.message}` };
    default:
      return chat;
  }
}

/**
 * The chat model to run beside the completion model, or '' when chat uses the completion model
 * (no chat model set, or the same file under another spelling).
 */
export function separateChatModel(chatPath: string, completionPath: string): string {
  const chat = chatPath.trim();
  if (!chat) return '';
  const completion = completionPath.trim();
  return completion && path.resolve(chat) === path.resolve(completion) ? '' : chat;
}
