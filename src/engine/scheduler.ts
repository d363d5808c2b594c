// One queue for everything the engine runs. Inline completions go first and a newer completion for
// the same document cancels the older one and starts once that one has ended, so it is handed the
// document's sequence with its KV cache (the engine owns this hand-off; nothing waits on a timer); chat and structured (review) requests share what is
// left in turn; a waiting request that has aged past `agingMs` goes before new completions so
// nothing starves; `exclusive` jobs (adapter switches) run alone.
import { EngineError } from './protocol';

export type JobClass = 'completion' | 'chat' | 'structured' | 'exclusive';

export interface SchedulerOptions {
  /** Jobs that may run at the same time (the engine's sequences bound it). */
  concurrency: number;
  /** A non-completion job that waited this long goes before queued completions. */
  agingMs?: number;
  now?: () => number;
}

export interface JobOptions {
  signal?: AbortSignal;
  /** Completions: the document; a newer completion with the same key supersedes this one. */
  key?: string;
}

export interface JobOutcome<T> {
  value: T;
  queuedMs: number;
}

interface Job {
  cls: JobClass;
  key?: string;
  enqueuedAt: number;
  controller: AbortController;
  start: () => void;
  fail: (err: unknown) => void;
  running: boolean;
  detach: () => void;
}

export class Scheduler {
  private readonly queue: Job[] = [];
  private readonly running = new Set<Job>();
  private readonly concurrency: number;
  private readonly agingMs: number;
  private readonly now: () => number;
  private lastShared: 'chat' | 'structured' = 'structured';

  constructor(options: SchedulerOptions) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency));
    this.agingMs = options.agingMs ?? 2000;
    this.now = options.now ?? (() => performance.now());
  }

  get pending(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.running.size;
  }

  /**
   * Queues `work`; it starts when the policy allows. `work` gets a signal that aborts when the
   * caller's signal does or when a newer completion for the same key supersedes it.
   */
  run<T>(cls: JobClass, work: (signal: AbortSignal) => Promise<T>, options: JobOptions = {}): Promise<JobOutcome<T>> {
    const { signal, key } = options;
    if (signal?.aborted) return Promise.reject(cancelled('cancelled before it started'));
    if (cls === 'completion' && key !== undefined) this.supersede(key);

    return new Promise<JobOutcome<T>>((resolve, reject) => {
      const controller = new AbortController();
      const onAbort = () => {
        controller.abort(signal?.reason);
        if (!job.running) {
          this.remove(job);
          reject(cancelled('cancelled while queued'));
        }
      };
      const job: Job = {
        cls,
        key,
        enqueuedAt: this.now(),
        controller,
        running: false,
        detach: () => signal?.removeEventListener('abort', onAbort),
        fail: (err) => {
          job.detach();
          reject(err);
        },
        start: () => {
          const queuedMs = this.now() - job.enqueuedAt;
          let promise: Promise<T>;
          try {
            promise = work(controller.signal);
          } catch (err) {
            promise = Promise.reject(err);
          }
          promise
            .then(
              (value) => resolve({ value, queuedMs }),
              (err) => reject(controller.signal.aborted && !(err instanceof EngineError) ? cancelled('cancelled') : err),
            )
            .finally(() => {
              job.detach();
              this.running.delete(job);
              this.pump();
            });
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  /** Rejects everything queued and aborts everything running (engine shutting down). */
  cancelAll(reason: EngineError): void {
    for (const job of this.queue.splice(0)) job.fail(reason);
    for (const job of this.running) job.controller.abort(reason);
  }

  private supersede(key: string): void {
    for (const job of [...this.queue]) {
      if (job.cls === 'completion' && job.key === key) {
        this.remove(job);
        job.controller.abort();
        job.fail(cancelled('superseded by a newer completion request for the same document'));
      }
    }
    for (const job of this.running) {
      if (job.cls === 'completion' && job.key === key) job.controller.abort(cancelled('superseded by a newer completion request'));
    }
  }

  private remove(job: Job): void {
    const index = this.queue.indexOf(job);
    if (index >= 0) this.queue.splice(index, 1);
  }

  private pump(): void {
    for (;;) {
      const next = this.pick();
      if (!next) return;
      this.remove(next);
      next.running = true;
      this.running.add(next);
      next.start();
    }
  }

  private pick(): Job | undefined {
    if (this.queue.length === 0) return undefined;
    if ([...this.running].some((j) => j.cls === 'exclusive')) return undefined;
    const exclusive = this.queue.find((j) => j.cls === 'exclusive');
    if (exclusive) return this.running.size === 0 ? exclusive : undefined;
    if (this.running.size >= this.concurrency) return undefined;

    const now = this.now();
    const shared = this.queue.filter((j) => j.cls === 'chat' || j.cls === 'structured');
    // One slot stays free for completions while chat/review run, so a keystroke never waits behind them.
    const sharedRunning = [...this.running].filter((j) => j.cls !== 'completion').length;
    const sharedMayStart = this.concurrency === 1 || sharedRunning < this.concurrency - 1;
    const aged = shared.find((j) => now - j.enqueuedAt >= this.agingMs);
    if (aged && sharedMayStart) return this.takeShared(aged);
    const completion = this.queue.find((j) => j.cls === 'completion' && !this.documentBusy(j.key));
    if (completion) return completion;
    if (!sharedMayStart || shared.length === 0) return undefined;
    // Chat and structured take turns.
    const preferred = this.lastShared === 'chat' ? 'structured' : 'chat';
    return this.takeShared(shared.find((j) => j.cls === preferred) ?? shared[0]);
  }

  /** A completion for this key still runs (cancelled, it ends within one decode step). */
  private documentBusy(key: string | undefined): boolean {
    if (key === undefined) return false;
    for (const job of this.running) if (job.cls === 'completion' && job.key === key) return true;
    return false;
  }

  private takeShared(job: Job): Job {
    this.lastShared = job.cls === 'chat' ? 'chat' : 'structured';
    return job;
  }
}

function cancelled(message: string): EngineError {
  return new EngineError('CANCELLED', `Request ${message}.`);
}
