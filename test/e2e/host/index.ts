// The mocha suite that runs inside the real extension host (see runHostSuite in ../harness.ts).
// esbuild bundles this file and the suites it requires (*.suite.ts — not *.test.ts, which the
// node:test runner would pick up) into out/test/index.js; VS Code calls
// run() and turns its rejection into a non-zero exit code.
//   ENCLAVE_HOST_GREP            only tests whose title matches (mocha --grep)
//   ENCLAVE_HOST_SELFTEST_FAIL=1 adds a failing test (proves a failure reaches the exit code)

type MochaModule = typeof Mocha | { Mocha?: typeof Mocha; default?: typeof Mocha };

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
  require('./extension.suite');
  if (process.env.ENCLAVE_HOST_SELFTEST_FAIL === '1') {
    it('fails on purpose (harness self-test)', () => {
      throw new Error('deliberate failure');
    });
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} host test(s) failed`)) : resolve()));
  });
}
