// Embeddings for the codebase index, from the extension host's side: once a folder's lexical index
// is built, its chunks without a vector go to the engine in small batches (the engine embeds them
// between the editor's completions) and the vectors back to the index worker; a question is
// embedded the same way for retrieval. All of it is optional: no model set, a model that fails to
// load (the user is told once), no local engine — retrieval stays lexical, exactly as before.
// vscode-free: the shell hands in the backend, the setting and how to tell the user.
import type { Logger } from '../logger';
import { EngineError, type Backend } from '../engine/protocol';
import type { PendingChunks, VectorsOpenResult } from './index/workerVectors';
import { errorMessage } from '../util';

/** What the embedder needs of the index worker (index/client.ts). */
export interface VectorWorker {
  readonly alive: boolean;
  vectorsOpen(key: string, model: string): Promise<VectorsOpenResult>;
  vectorsPending(key: string, limit: number): Promise<PendingChunks>;
  vectorsPut(key: string, model: string, ids: number[], vectors: number[][]): Promise<number>;
  save(): Promise<void>;
}

export interface ChunkEmbedderOptions {
  backend: () => Backend;
  /** The embedding model's path (enclave.index.embeddingPath); empty = off. */
  modelPath: () => string;
  log: Logger;
  /**
   * Whether the engine is running: chunks are embedded only then (the index never starts the engine;
   * the shell calls `update` when it becomes ready). A question's embedding may start it: chat needs it anyway.
   */
  engineReady?: () => boolean;
  /** Tells the user something once (a model that cannot load). */
  notify: (message: string) => void;
  /** Chunks per engine request (each request is cancellable between its texts). */
  batch?: number;
  /** Vectors are written to disk after this many new ones (and at the end). */
  saveEvery?: number;
  /** How long a question's embedding may take before retrieval goes on without it. */
  queryTimeoutMs?: number;
}

export class ChunkEmbedder {
  private run?: AbortController;
  /** The model path that failed to load: not tried again until the setting changes. */
  private failedModel?: string;
  private readonly batch: number;
  private readonly saveEvery: number;
  private readonly queryTimeoutMs: number;

  constructor(private readonly options: ChunkEmbedderOptions) {
    this.batch = options.batch ?? 16;
    this.saveEvery = options.saveEvery ?? 2000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
  }

  /** The model to use now, or '' (none set, or the set one failed). */
  private model(): string {
    const model = this.options.modelPath();
    if (model !== this.failedModel) this.failedModel = undefined;
    return model && model !== this.failedModel && this.options.backend().embed ? model : '';
  }

  /** Opens the folders' vectors for the current model and fills in the missing ones, in the background; a new call stops the last. */
  async start(worker: VectorWorker, keys: string[]): Promise<void> {
    this.stop();
    const controller = new AbortController();
    this.run = controller;
    const model = this.model();
    const { log } = this.options;
    try {
      for (const key of keys) {
        const opened = await worker.vectorsOpen(key, model);
        if (opened.corrupt) log.warn(`stored vectors of ${key} unusable (${opened.corrupt}): they are made again`);
        if (opened.dropped) log.info(`stored vectors of ${key} were another model's: dropped`);
      }
      if (!model || !(this.options.engineReady?.() ?? true)) return;
      for (const key of keys) await this.fill(worker, key, model, controller.signal);
    } catch (err) {
      this.failed(err, model, controller.signal);
    } finally {
      if (this.run === controller) this.run = undefined;
    }
  }

  /** Embeds the chunks still without a vector (after file changes, once the engine is ready); a running fill picks them up itself. */
  update(worker: VectorWorker, keys: string[]): void {
    if (this.run || !this.model() || !(this.options.engineReady?.() ?? true)) return;
    const controller = new AbortController();
    this.run = controller;
    const model = this.model();
    void (async () => {
      try {
        for (const key of keys) await this.fill(worker, key, model, controller.signal);
      } catch (err) {
        this.failed(err, model, controller.signal);
      } finally {
        if (this.run === controller) this.run = undefined;
      }
    })();
  }

  stop(): void {
    this.run?.abort();
    this.run = undefined;
  }

  private async fill(worker: VectorWorker, key: string, model: string, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let made = 0;
    let unsaved = 0;
    while (!signal.aborted && worker.alive) {
      const pending = await worker.vectorsPending(key, this.batch);
      if (!pending.ids.length) break;
      const { vectors } = await this.options.backend().embed!({ modelPath: model, texts: pending.texts }, { signal });
      if (signal.aborted) break;
      const kept = await worker.vectorsPut(key, model, pending.ids, vectors);
      made += kept;
      unsaved += kept;
      if (unsaved >= this.saveEvery) {
        unsaved = 0;
        await worker.save();
      }
      if (kept === 0 && pending.remaining === 0) break;
    }
    if (unsaved) await worker.save();
    if (made) this.options.log.info(`embedded ${made} chunks of ${key} in ${Math.round(performance.now() - started)} ms`);
  }

  /** The question's vector, or undefined (no model, a failure, too slow, cancelled): retrieval is then lexical. */
  async queryVector(question: string): Promise<number[] | undefined> {
    const model = this.model();
    if (!model || !question.trim()) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.queryTimeoutMs);
    try {
      const { vectors } = await this.options.backend().embed!({ modelPath: model, texts: [question] }, { signal: controller.signal });
      return vectors[0];
    } catch (err) {
      this.failed(err, model, controller.signal);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(err: unknown, model: string, signal: AbortSignal): void {
    const { log } = this.options;
    if (signal.aborted || (err instanceof EngineError && err.code === 'CANCELLED')) return;
    if (err instanceof EngineError && err.code === 'EMBEDDING_MODEL_INVALID') {
      if (this.failedModel === model) return;
      this.failedModel = model;
      log.warn(err.message);
      this.options.notify(`${err.message}`);
      return;
    }
    log.warn(`embeddings: ${errorMessage(err)}`);
  }
}
