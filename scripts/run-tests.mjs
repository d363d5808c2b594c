// Runs one test layer with node's test runner over TypeScript files (tsx transpiles them).
//   node scripts/run-tests.mjs unit|engine|e2e [file filter]
//   node scripts/run-tests.mjs engine --cpu-variants [--variants=…] [--files=…]   once per llama.cpp
//     CPU variant this CPU runs (scripts/cpu-variants.mjs)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const layer = process.argv[2];
if (layer === 'engine' && process.argv.includes('--cpu-variants')) {
  const options = process.argv.slice(3).filter((arg) => arg !== '--cpu-variants');
  const run = spawnSync(process.execPath, [join(import.meta.dirname, 'cpu-variants.mjs'), ...options], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
const filter = process.argv[3] ?? '';
const layers = {
  unit: { dir: 'test/unit', concurrency: 2, timeoutMs: 60_000 },
  engine: { dir: 'test/engine', concurrency: 1, timeoutMs: 300_000 },
  e2e: { dir: 'test/e2e', concurrency: 1, timeoutMs: 900_000 },
};
const spec = layers[layer];
if (!spec) {
  console.error(`usage: run-tests.mjs ${Object.keys(layers).join('|')} [filter]`);
  process.exit(2);
}

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === '.cache' || name === 'artifacts' || name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return testFiles(path);
    return name.endsWith('.test.ts') && path.includes(filter) ? [path] : [];
  });
}

const files = testFiles(spec.dir).sort();
if (files.length === 0) {
  console.error(`no ${layer} tests found in ${spec.dir}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${spec.concurrency}`,
    `--test-timeout=${spec.timeoutMs}`,
    // Set by scripts/cpu-variants.mjs to rerun only the tests that compare outputs.
    ...(process.env.ENCLAVE_TEST_NAME_PATTERN ? [`--test-name-pattern=${process.env.ENCLAVE_TEST_NAME_PATTERN}`] : []),
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
