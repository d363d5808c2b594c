// Small helpers every layer uses. Plain TypeScript: no vscode, no node-llama-cpp.

/** The message of anything thrown (an Error's message, else its string form). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
