// The mocha suites that run inside the real extension host (see runHostSuite in ../harness.ts).
// Every test/e2e/host/<name>.suite.ts is one suite (not *.test.ts: the node:test runner would
// pick those up). esbuild bundles this file and all of them (the template-literal require below
// is a glob to esbuild) into out/test/index.js; VS Code calls run() and turns its rejection into
// a non-zero exit code.
//   ENCLAVE_HOST_SUITES=a,b      only these suites (file names without .suite.ts); default all
//   ENCLAVE_HOST_GREP            only tests whose full title matches (mocha --grep)
//   ENCLAVE_HOST_SELFTEST_FAIL=1 adds a failing test (proves a failure reaches the exit code)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

type MochaModule = typeof Mocha | { Mocha?: typeof Mocha; default?: typeof Mocha };

/** The suites' names, read from the sources (out/test/index.js runs from the repository). */
function suiteNames(): string[] {
  const dir = join(__dirname, '..', '..', 'test', 'e2e', 'host');
  const all = readdirSync(dir)
    .filter((file) => file.endsWith('.suite.ts'))
    .map((file) => file.slice(0, -'.suite.ts'.length))
    .sort();
  const wanted = process.env.ENCLAVE_HOST_SUITES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!wanted) return all;
  const unknown = wanted.filter((name) => !all.includes(name));
  if (unknown.length > 0) throw new Error(`no host suite named ${unknown.join(', ')} (have: ${all.join(', ')})`);
  return wanted;
}

export function run(): Promise<void> {
  // mocha stays external (esbuild.js); Node 20 and 24 expose its class differently.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('mocha') as MochaModule;
  const MochaClass = typeof loaded === 'function' ? loaded : (loaded.Mocha ?? loaded.default);
  if (!MochaClass) throw new Error('mocha did not load');
  const mocha = new MochaClass({ ui: 'bdd', color: false, reporter: 'spec', timeout: 120_000 });
  if (process.env.ENCLAVE_HOST_GREP) mocha.grep(process.env.ENCLAVE_HOST_GREP);
  // Give the suites mocha's globals (describe, it, …) before their top level runs.
  mocha.suite.emit('pre-require', globalThis, 'enclave-host-suite', mocha);
  for (const name of suiteNames()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(`./${name}.suite.ts`);
  }
  if (process.env.ENCLAVE_HOST_SELFTEST_FAIL === '1') {
    it('fails on purpose (harness self-test)', () => {
      throw new Error('deliberate failure');
    });
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} host test(s) failed`)) : resolve()));
  });
}
