// The logging interface pure cores accept (no vscode import, so they run under `node --test`).
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string | Error): void;
}

/** Drops everything — for pure cores under test. */
export const nullLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
