// Runs the benchmarks (test/bench/*.bench.ts) one after another with tsx, or only those whose
// path contains the argument:   node scripts/run-bench.mjs [filter]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filter = process.argv[2] ?? '';
const dir = 'test/bench';
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.bench.ts'))
  .map((name) => join(dir, name))
  .filter((path) => path.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks matching "${filter}" in ${dir}`);
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`${file} failed (exit ${result.status ?? result.signal})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
