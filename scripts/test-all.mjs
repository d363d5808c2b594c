// `npm test`: every test layer in order — typecheck, lint (ESLint + prettier --check), unit, engine, the engine's output-comparing
// tests again under llama.cpp's baseline (x64) and AVX2 (haswell) CPU kernels where the machine
// picks another one (cpu-variants), e2e — each run even when an earlier one failed, then a table
// of layer → result → seconds; exits non-zero if any failed.
//   node scripts/test-all.mjs [layer …]   (default: all)
import { spawnSync } from 'node:child_process';

const all = [
  ['typecheck', 'typecheck'],
  ['lint', 'lint'],
  ['unit', 'test:unit'],
  ['engine', 'test:engine'],
  ['cpu-variants', 'test:cpu-variants'],
  ['e2e', 'test:e2e'],
];
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !all.some(([layer]) => layer === name));
if (unknown.length) {
  console.error(`unknown layer ${unknown.join(', ')}; layers: ${all.map(([layer]) => layer).join(', ')}`);
  process.exit(2);
}
const layers = wanted.length ? all.filter(([layer]) => wanted.includes(layer)) : all;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const results = [];
for (const [layer, script] of layers) {
  console.log(`\n[test-all] ${layer}: npm run ${script}`);
  const started = performance.now();
  const run = spawnSync(npm, ['run', script], { stdio: 'inherit', shell: process.platform === 'win32' });
  const seconds = (performance.now() - started) / 1000;
  const status = run.error
    ? `error: ${run.error.message}`
    : run.signal
      ? `killed (${run.signal})`
      : run.status === 0
        ? 'pass'
        : `fail (exit ${run.status})`;
  results.push({ layer, status, seconds });
  console.log(`[test-all] ${layer}: ${status} in ${seconds.toFixed(1)} s`);
  if (run.signal === 'SIGINT') break; // Ctrl+C stops the whole run
}

const width = Math.max(5, ...results.map((r) => r.layer.length));
const lines = [
  `${'layer'.padEnd(width)}  ${'result'.padEnd(14)}  seconds`,
  `${'-'.repeat(width)}  ${'-'.repeat(14)}  -------`,
  ...results.map((r) => `${r.layer.padEnd(width)}  ${r.status.padEnd(14)}  ${r.seconds.toFixed(1).padStart(7)}`),
];
const total = results.reduce((sum, r) => sum + r.seconds, 0);
lines.push(`${'total'.padEnd(width)}  ${''.padEnd(14)}  ${total.toFixed(1).padStart(7)}`);
console.log(`\n[test-all] summary\n${lines.join('\n')}`);
const failed = results.filter((r) => r.status !== 'pass');
if (failed.length || results.length < layers.length) {
  console.log(`\n[test-all] FAILED: ${failed.map((r) => r.layer).join(', ') || 'interrupted'}`);
  process.exit(1);
}
console.log('\n[test-all] all layers passed');
