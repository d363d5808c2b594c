// Admission control for the API server: at most `maxActive` API requests reach the engine at once
// and at most `maxQueued` wait behind them; the rest are turned away at once (HTTP 429) instead of
// piling up. The engine is shared with the editor (completions, chat, review), so capping what the
// API may hold there is what keeps one local client from starving the editor.

export interface AdmissionOptions {
  maxActive: number;
  maxQueued: number;
}

/** The queue is full; `retryAfterSeconds` is a guess at when a place will be free. */
export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`The server is busy (its queue is full). Retry after ${retryAfterSeconds} s.`);
  }
}

/** The caller gave up (aborted) while waiting for a place. */
export class AdmissionAbortedError extends Error {}

interface Waiter {
  grant: () => void;
  reject: (err: Error) => void;
}

export class Admission {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /** Moving average of how long an admitted request held its place, for Retry-After. */
  private averageHoldMs = 5000;

  constructor(private readonly options: AdmissionOptions) {}

  get activeCount(): number {
    return this.active;
  }

  get queuedCount(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a place; resolves with the function that gives it back (call it exactly once).
   * Rejects with QueueFullError at once when the queue is full, AdmissionAbortedError on abort.
   */
  enter(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new AdmissionAbortedError('aborted before admission'));
    if (this.active < this.options.maxActive && this.waiting.length === 0) return Promise.resolve(this.take());
    if (this.waiting.length >= this.options.maxQueued) return Promise.reject(new QueueFullError(this.retryAfterSeconds()));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new AdmissionAbortedError('aborted while queued'));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take());
        },
        reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private take(): () => void {
    this.active++;
    const since = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.averageHoldMs = this.averageHoldMs * 0.8 + (performance.now() - since) * 0.2;
      this.active--;
      const next = this.waiting.shift();
      if (next) next.grant();
    };
  }

  /** Seconds until the whole queue ahead has likely drained, at least 1. */
  private retryAfterSeconds(): number {
    const rounds = Math.ceil((this.waiting.length + 1) / Math.max(1, this.options.maxActive));
    return Math.max(1, Math.ceil((rounds * this.averageHoldMs) / 1000));
  }
}
