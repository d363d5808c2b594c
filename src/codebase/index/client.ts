// The extension host's handle on the index worker (worker.ts): typed requests answered by promises,
// build progress as callbacks. A worker that dies (out of memory on a huge workspace, a bug) fails
// what was asked of it and reports its exit; the extension host carries on.
import { Worker } from 'node:worker_threads';

import type { BuildSummary, FolderHit, FolderSpec, OpenResult, Reply, Request, WorkerStats } from './protocol';
import type { PendingChunks, VectorsOpenResult } from './workerVectors';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface IndexWorkerOptions {
  /** Called once when the worker stops other than by terminate() (with why). */
  onExit?: (reason: string) => void;
  /** Old-generation heap cap of the worker (MB): a runaway index ends the worker, not the extension host. */
  maxHeapMb?: number;
  /** Young-generation size of the worker (MB; see the constructor). */
  youngHeapMb?: number;
}

export class IndexWorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private ended?: string;

  /** `script`: the worker's bundled entry (dist/indexWorker.js). */
  constructor(script: string, options: IndexWorkerOptions = {}) {
    // A small young generation (V8's default is 48 MB, ~34 MB of it committed for good once a build
    // has filled it): what the index allocates briefly is small, what it keeps lives in the old one.
    this.worker = new Worker(script, {
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 2048, maxYoungGenerationSizeMb: options.youngHeapMb ?? 12 },
    });
    this.worker.on('message', (reply: Reply) => this.receive(reply));
    const end = (reason: string) => {
      if (this.ended) return;
      this.ended = reason;
      for (const p of this.pending.values()) p.reject(new Error(`index worker stopped: ${reason}`));
      this.pending.clear();
      options.onExit?.(reason);
    };
    this.worker.on('error', (err) => end(err.message));
    this.worker.on('exit', (code) => end(`exit code ${code}`));
  }

  get alive(): boolean {
    return !this.ended;
  }

  private receive(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if ('progress' in reply) {
      pending.onProgress?.(reply.progress.done, reply.progress.total);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new Error(reply.error));
  }

  private request<T>(request: Request, onProgress?: Pending['onProgress']): Promise<T> {
    if (this.ended) return Promise.reject(new Error(`index worker stopped: ${this.ended}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onProgress });
      this.worker.postMessage({ id, request });
    });
  }

  open(folder: FolderSpec, rebuild = false): Promise<OpenResult> {
    return this.request({ op: 'open', folder, rebuild });
  }

  /** Rejects with 'cancelled' when `signal` aborts first. */
  build(key: string, fresh: boolean, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<BuildSummary> {
    const cancel = () => void this.request({ op: 'cancel', key }).catch(() => undefined);
    if (signal?.aborted) return Promise.reject(new Error('cancelled'));
    signal?.addEventListener('abort', cancel, { once: true });
    return this.request<BuildSummary>({ op: 'build', key, fresh }, onProgress).finally(() => signal?.removeEventListener('abort', cancel));
  }

  change(key: string, path: string): Promise<boolean> {
    return this.request({ op: 'change', key, path });
  }

  query(text: string, limit: number, perFile = 1, vector?: number[]): Promise<FolderHit[]> {
    return this.request({ op: 'query', text, limit, perFile, vector });
  }

  vectorsOpen(key: string, model: string): Promise<VectorsOpenResult> {
    return this.request({ op: 'vectorsOpen', key, model });
  }

  vectorsPending(key: string, limit: number): Promise<PendingChunks> {
    return this.request({ op: 'vectorsPending', key, limit });
  }

  /** Answers how many of the vectors were kept (those of chunks still in the index). */
  vectorsPut(key: string, model: string, ids: number[], vectors: number[][]): Promise<number> {
    return this.request({ op: 'vectorsPut', key, model, ids, vectors });
  }

  save(): Promise<void> {
    return this.request({ op: 'save' });
  }

  retain(keys: string[]): Promise<void> {
    return this.request({ op: 'retain', keys });
  }

  stats(): Promise<WorkerStats> {
    return this.request({ op: 'stats' });
  }

  async terminate(): Promise<void> {
    this.ended ??= 'terminated';
    for (const p of this.pending.values()) p.reject(new Error('index worker stopped: terminated'));
    this.pending.clear();
    await this.worker.terminate();
  }
}
