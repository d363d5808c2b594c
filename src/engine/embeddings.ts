// Embeddings for the codebase index, in the engine process: one embedding GGUF loaded on first use
// (a different path replaces it), one node-llama-cpp embedding context, texts embedded one after
// another. The work is bounded (texts per call, characters per text, tokens cut to the context) and
// yields to the editor's completions between texts, so indexing never holds up a keystroke.
import type { Llama, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import type { EditorFirstGate } from './editorFirst';
import type { Logger } from '../logger';
import { checkGgufFile } from './modelFiles';
import { EngineError, type EmbedRequest, type EmbedResult } from './protocol';
import { errorMessage } from '../util';

/** Texts one call may carry, and characters one text may have (more is cut before tokenizing). */
export const EMBED_LIMITS = { maxTexts: 64, maxChars: 8000, contextSize: 512 } as const;

interface Loaded {
  path: string;
  model: LlamaModel;
  context: LlamaEmbeddingContext;
  contextSize: number;
}

export class EmbeddingModels {
  private current?: Promise<Loaded>;
  private currentPath?: string;
  /** Calls run one at a time: one embedding context, one evaluation at once. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly llama: Llama,
    private readonly threads: number,
    private readonly gate: EditorFirstGate,
    private readonly logger: Logger,
  ) {}

  async embed(request: EmbedRequest, signal?: AbortSignal): Promise<EmbedResult> {
    validate(request);
    const run = this.queue.then(() => this.run(request, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(request: EmbedRequest, signal?: AbortSignal): Promise<EmbedResult> {
    const loaded = await this.load(request.modelPath);
    const vectors: number[][] = [];
    const maxTokens = loaded.contextSize;
    for (const text of request.texts) {
      await this.gate.wait(signal);
      if (signal?.aborted) throw new EngineError('CANCELLED', 'Embedding cancelled.');
      // Cut by tokens to what the context holds (one token left for the end-of-sequence token).
      const tokens = loaded.model.tokenize(text.slice(0, EMBED_LIMITS.maxChars)).slice(0, Math.max(1, maxTokens - 1));
      const embedding = await loaded.context.getEmbeddingFor(tokens);
      vectors.push(Array.from(embedding.vector));
    }
    return { vectors, dimensions: loaded.model.embeddingVectorSize };
  }

  /** The embedding model at `path`, loaded once; a failed load is reported and retried on the next call. */
  private load(path: string): Promise<Loaded> {
    if (this.current && this.currentPath === path) return this.current;
    const previous = this.current;
    this.currentPath = path;
    this.current = (async () => {
      await previous?.then(disposeLoaded, () => undefined);
      await checkGgufFile(path, 'embedding model').catch((err: unknown) => {
        throw unusable(path, errorMessage(err));
      });
      let model: LlamaModel | undefined;
      try {
        model = await this.llama.loadModel({ modelPath: path, gpuLayers: 'auto' });
        const contextSize = Math.min(EMBED_LIMITS.contextSize, model.trainContextSize);
        const context = await model.createEmbeddingContext({ contextSize, threads: this.threads });
        this.logger.info(`embedding model ${path} loaded (${model.embeddingVectorSize} dimensions)`);
        return { path, model, context, contextSize };
      } catch (err) {
        await model?.dispose().catch(() => undefined);
        throw unusable(path, errorMessage(err));
      }
    })();
    this.current.catch(() => {
      if (this.currentPath === path) {
        this.current = undefined;
        this.currentPath = undefined;
      }
    });
    return this.current;
  }

  async dispose(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.then(disposeLoaded, () => undefined);
  }
}

async function disposeLoaded(loaded: Loaded): Promise<void> {
  await loaded.context.dispose().catch(() => undefined);
  await loaded.model.dispose().catch(() => undefined);
}

function unusable(path: string, reason: string): EngineError {
  return new EngineError(
    'EMBEDDING_MODEL_INVALID',
    `The embedding model ${path} could not be loaded: ${reason}. Choose an embedding GGUF in enclave.index.embeddingPath, or clear it (the lexical index keeps working).`,
  );
}

function validate(request: EmbedRequest): void {
  if (typeof request?.modelPath !== 'string' || !request.modelPath)
    throw new EngineError('BAD_REQUEST', 'Embedding request without a model path.');
  if (!Array.isArray(request.texts) || request.texts.some((t) => typeof t !== 'string'))
    throw new EngineError('BAD_REQUEST', 'Embedding request needs texts (an array of strings).');
  if (request.texts.length > EMBED_LIMITS.maxTexts)
    throw new EngineError('BAD_REQUEST', `At most ${EMBED_LIMITS.maxTexts} texts per embedding request (got ${request.texts.length}).`);
}
