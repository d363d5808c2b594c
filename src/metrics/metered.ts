// A Backend that passes every call through and records chat and review generations (throughput,
// time to first token) and failed calls. The composition root hands features this one object, so
// chat, review and the API server are measured without knowing about metrics.
import { ForwardingBackend } from '../engine/forwarding';
import type {
  Backend,
  ChatRequest,
  EngineState,
  FimRequest,
  GenerationResult,
  RequestOptions,
  StructuredRequest,
  StructuredResult,
} from '../engine/protocol';
import type { GenerationFeature, MetricEvent } from './events';

export interface MeterSink {
  /** Whether to record now (the setting can turn metrics off at any time). */
  enabled(): boolean;
  record(event: MetricEvent): void;
  /** The model and adapter requests go to now. */
  dimensions(): { model: string; adapter: string };
}

export class MeteredBackend extends ForwardingBackend {
  constructor(
    private readonly inner: Backend & { readonly currentState?: EngineState },
    private readonly sink: MeterSink,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  protected target(): Backend {
    return this.inner;
  }
  /** The wrapped backend's state (the SwitchingBackend exposes it; feature code may read it). */
  get currentState(): EngineState | undefined {
    return this.inner.currentState;
  }

  override completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.measure(undefined, options, () => this.inner.completeFim(request, options));
  }
  override chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.measure('chat', options, () => this.inner.chat(request, options));
  }
  override generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    // A next-edit prediction is not a review (it is measured as the predictor's own request).
    const feature = request.engine === 'nextEdit' ? undefined : 'review';
    return this.measure(feature, options, () => this.inner.generateStructured(request, options));
  }

  private async measure<T extends GenerationResult>(
    feature: GenerationFeature | undefined,
    options: RequestOptions | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      if (!options?.signal?.aborted && this.sink.enabled())
        this.sink.record({ kind: 'engine', t: this.now(), what: 'error', message: String(err), language: '', ...this.sink.dimensions() });
      throw err;
    }
    const stats = result.stats;
    if (feature && stats.stopReason !== 'abort' && this.sink.enabled())
      this.sink.record({
        kind: 'generation',
        t: this.now(),
        feature,
        tokens: stats.generatedTokens,
        ms: stats.totalMs,
        firstTokenMs: stats.timeToFirstTokenMs,
        language: '',
        ...this.sink.dimensions(),
      });
    return result;
  }
}
