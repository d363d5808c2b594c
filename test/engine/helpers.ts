// Shared setup for the engine tests: fixture models, settings, the built worker bundle.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import type { EngineSettings } from '../../src/engine/protocol';
import { ensureFixtures, type FixturePaths } from '../fixtures/generate';

export const repoRoot = join(__dirname, '..', '..');
export const workerPath = join(repoRoot, 'dist', 'worker.js');

let built = false;
/** Builds dist/worker.js (and the other bundles) once per test process. */
export function buildBundles(): void {
  if (built) return;
  execFileSync(process.execPath, ['esbuild.js'], { cwd: repoRoot, stdio: 'pipe' });
  built = true;
}

export function fixtures(): Promise<FixturePaths> {
  return ensureFixtures();
}

export function settingsFor(paths: FixturePaths, overrides: Partial<EngineSettings> = {}): EngineSettings {
  return {
    modelPath: paths.model,
    speculative: 'off',
    contextSize: 2048,
    sequences: 4,
    threads: 1,
    batchSize: 256,
    gpu: 'cpu',
    adapters: [],
    ...overrides,
  };
}

export function fimPrompt(prefix: string, suffix: string): string {
  return `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>`;
}

/** Code that repeats itself, as real code does (prompt lookup finds continuations in it). */
export function repetitiveCode(n = 6): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(`export function handle${i}(request: Request, response: Response): void {`);
    lines.push(`  const body = parseBody(request.body, { strict: true, limit: ${i * 1024} });`);
    lines.push(`  response.status(200).json({ ok: true, id: ${i}, body });`);
    lines.push('}');
  }
  return lines.join('\n');
}

export const samplePrefixes = [
  'import { readFile } from "node:fs/promises";\n\nexport async function load(path: string) {\n  const text = await ',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return ',
  '#include <stdio.h>\n\nint main(void) {\n    printf(',
  repetitiveCode() + '\nexport function handle6(request: Request, response: Response): void {\n  const body = ',
];
