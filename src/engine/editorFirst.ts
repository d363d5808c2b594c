// The editor's inline completions come first, not only in the queue but on the CPU: while one
// runs, every other generation on the context (chat, review, the API server's requests) waits
// before its next evaluation step. node-llama-cpp batches all sequences' pending tokens into one
// decode, so without this a keystroke's every token shares its decode with the other work (measured
// with the API under load: inline p95 1.7× its idle p95). Work paused this way still makes progress
// between keystrokes, and never waits longer than `maxHoldMs` at a time.
import type { LlamaContextSequence } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

export class EditorFirstGate {
  private active = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly maxHoldMs = 2000) {}

  /** Whether an editor completion is running now. */
  get closed(): boolean {
    return this.active > 0;
  }

  /** Marks an editor completion as running until the returned function is called (idempotent). */
  enter(): () => void {
    this.active++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.active === 0) this.open();
    };
  }

  /** Resolves at once when no editor completion runs, else when they have ended, the hold times out or `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.active === 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, this.maxHoldMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }

  private open(): void {
    for (const waiter of this.waiters.slice()) waiter();
  }
}

type Sequence = LlamaContextSequence;

/**
 * `seq` as seen by work that yields to the editor: each evaluation (a prompt batch, a verify batch,
 * the next generated token) first waits for the gate. Everything else is the sequence itself,
 * called on the real object (node-llama-cpp's methods keep their own `this`).
 */
export function yieldingSequence(seq: Sequence, gate: EditorFirstGate, signal?: AbortSignal): Sequence {
  const wait = () => gate.wait(signal);
  const wrapped: Partial<Record<keyof Sequence, unknown>> = {
    evaluate: (...args: Parameters<Sequence['evaluate']>) => gatedIterator(seq.evaluate(...args), wait),
    evaluateWithMetadata: (...args: Parameters<Sequence['evaluateWithMetadata']>) =>
      gatedIterator(seq.evaluateWithMetadata(...args) as AsyncGenerator<unknown, void, unknown>, wait),
    evaluateWithoutGeneratingNewTokens: async (...args: Parameters<Sequence['evaluateWithoutGeneratingNewTokens']>) => {
      await wait();
      return seq.evaluateWithoutGeneratingNewTokens(...args);
    },
    controlledEvaluate: async (...args: Parameters<Sequence['controlledEvaluate']>) => {
      await wait();
      return seq.controlledEvaluate(...args);
    },
  };
  return new Proxy(seq, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(wrapped, property)) return wrapped[property as keyof Sequence];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `inner`, except that each step first waits: the decode behind `next()` starts only after `wait()`. */
function gatedIterator<T, R, N>(inner: AsyncGenerator<T, R, N>, wait: () => Promise<void>): AsyncGenerator<T, R, N> {
  const gated: AsyncGenerator<T, R, N> = {
    async next(...args: [] | [N]) {
      await wait();
      return inner.next(...args);
    },
    return: (value) => inner.return(value),
    throw: (err) => inner.throw(err),
    [Symbol.asyncIterator]() {
      return gated;
    },
  };
  return gated;
}
