// Small helpers every layer uses. Plain TypeScript: no vscode, no node-llama-cpp.
import type { Logger } from './logger';

/** The message of anything thrown (an Error's message, else its string form). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Calls every listener with `value`; one that throws is logged and does not stop the others. */
export function notifyAll<T>(listeners: Iterable<(value: T) => void>, value: T, logger: Pick<Logger, 'error'>): void {
  for (const listener of [...listeners]) {
    try {
      listener(value);
    } catch (err) {
      logger.error(err instanceof Error ? err : String(err));
    }
  }
}
