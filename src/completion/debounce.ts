// How long to wait after a keystroke before asking the model. A fast model can be asked at once;
// a slow one should wait for a pause in typing, or every keystroke starts a request that the
// next keystroke cancels. The delay follows the measured latency, clamped.

export interface DebounceOptions {
  /** A fixed delay in milliseconds, or -1 to adapt to the measured latency. */
  fixedMs?: number;
  minMs?: number;
  maxMs?: number;
  /** Delay = factor × typical latency. */
  factor?: number;
  /** Delay before any latency has been measured. */
  initialMs?: number;
}

export class AdaptiveDebounce {
  private average: number | undefined;
  private readonly fixedMs: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly initialMs: number;

  constructor(options: DebounceOptions = {}) {
    this.fixedMs = options.fixedMs ?? -1;
    this.minMs = options.minMs ?? 10;
    this.maxMs = options.maxMs ?? 200;
    this.factor = options.factor ?? 0.5;
    this.initialMs = options.initialMs ?? 60;
  }

  /** Records how long a model request took (an exponential moving average, α = 0.3). */
  record(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    this.average = this.average === undefined ? latencyMs : this.average * 0.7 + latencyMs * 0.3;
  }

  /**
   * A request cancelled after `elapsedMs` took at least that long. On a machine too slow for the
   * typing speed no request ever finishes; this still lets the delay grow.
   */
  recordAtLeast(elapsedMs: number): void {
    if (this.average === undefined || elapsedMs > this.average) this.record(elapsedMs);
  }

  get latencyMs(): number | undefined {
    return this.average;
  }

  delayMs(): number {
    if (this.fixedMs >= 0) return this.fixedMs;
    const wanted = this.average === undefined ? this.initialMs : this.average * this.factor;
    return Math.round(Math.min(this.maxMs, Math.max(this.minMs, wanted)));
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Time for the completion core: real by default, a manual one in unit tests (no real waits). */
export interface Clock {
  now(): number;
  /** Resolves true after `ms`, or false as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}

export const systemClock: Clock = { now: () => performance.now(), sleep };
