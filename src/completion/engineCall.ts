// The completion core's engine call in flight. There is at most one: calls for one document must not
// overlap in the engine, and a newer keystroke either cancels the call or waits for it (`settle`).
import type { Backend, FimRequest, GenerationResult } from '../engine/protocol';
import type { Clock } from './debounce';

export interface EngineCallDone {
  result: GenerationResult;
  elapsedMs: number;
}

interface InFlight {
  uri: string;
  key: string;
  controller: AbortController;
  settled: Promise<unknown>;
}

export class EngineCallSlot {
  private call?: InFlight;

  constructor(
    private readonly backend: () => Backend,
    private readonly clock: Clock,
  ) {}

  /** Whether a call is in flight. */
  get busy(): boolean {
    return this.call !== undefined;
  }

  /** The state the call in flight computes (its `key`), if any. */
  get key(): string | undefined {
    return this.call?.key;
  }

  /**
   * Starts a call as the one in flight (`key`: the state it computes). The result comes with the
   * call's own timing; `onDone` hears it first, whoever is still waiting for it. A call that was
   * cancelled (by `signal`, `settle` or the engine) rejects.
   */
  start(uri: string, key: string, fim: FimRequest, signal?: AbortSignal, onDone?: (done: EngineCallDone) => void): Promise<EngineCallDone> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const call: InFlight = { uri, key, controller, settled: Promise.resolve() };
    const finished = () => {
      signal?.removeEventListener('abort', onAbort);
      if (this.call === call) this.call = undefined;
    };
    const started = this.clock.now();
    const promise = this.backend()
      .completeFim(fim, { signal: controller.signal })
      .then(
        (result) => {
          finished();
          const elapsedMs = this.clock.now() - started;
          if (controller.signal.aborted || result.stats.stopReason === 'abort') throw new Error('cancelled');
          const done = { result, elapsedMs };
          onDone?.(done);
          return done;
        },
        (err: unknown) => {
          finished();
          throw err;
        },
      );
    call.settled = promise.catch(() => undefined);
    this.call = call;
    return promise;
  }

  /**
   * Ends the call in flight: cancels it (and waits for the backend to confirm, no timer), or waits
   * for it when it computes this very state (`key`: a re-request at the same position, an accepted
   * suggestion's prefetch) or, with `cancelSuperseded` false, anything for the same document; false
   * if `signal` aborted first.
   */
  async settle(uri: string, key: string, signal: AbortSignal, cancelSuperseded: boolean): Promise<boolean> {
    for (let call = this.call; call; call = this.call) {
      const wait = call.uri === uri && (call.key === key || !cancelSuperseded);
      if (!wait) {
        call.controller.abort();
        await call.settled;
        continue;
      }
      try {
        await untilAborted(call.settled, signal);
      } catch {
        return false;
      }
    }
    return !signal.aborted;
  }

  abort(): void {
    this.call?.controller.abort();
  }

  /** Cancels the call in flight when `which` says so of its key, and waits until it has ended. */
  async cancel(which: (key: string) => boolean): Promise<void> {
    for (let call = this.call; call && which(call.key); call = this.call) {
      call.controller.abort();
      await call.settled;
    }
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the work itself goes on). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
