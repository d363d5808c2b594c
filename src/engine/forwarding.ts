// A Backend that passes every call to the backend `target()` names: the wrappers (metering, the
// switch between local and remote) extend it and override only the calls they change.
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

export abstract class ForwardingBackend implements Backend {
  /** Where calls go now. */
  protected abstract target(): Backend;

  get kind(): 'local' | 'remote' {
    return this.target().kind;
  }
  info(engine?: 'nextEdit'): Promise<EngineInfo> {
    return this.target().info(engine);
  }
  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.target().completeFim(request, options);
  }
  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.target().chat(request, options);
  }
  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    return this.target().generateStructured(request, options);
  }
  countTokens(text: string): Promise<number> {
    return this.target().countTokens(text);
  }
  async embed(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResult> {
    const target = this.target();
    if (!target.embed) throw new EngineError('BAD_REQUEST', 'Embeddings need the local engine.');
    return target.embed(request, options);
  }
  setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    return this.target().setAdapters(adapters);
  }
  metrics(): Promise<EngineMetrics> {
    return this.target().metrics();
  }
  onState(listener: (state: EngineState) => void): () => void {
    return this.target().onState(listener);
  }
  dispose(): Promise<void> {
    return this.target().dispose();
  }
}
