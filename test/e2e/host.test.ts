// Runs test/e2e/host (mocha) inside the real extension host and checks that it passed.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';

import { fixturePaths, runHostSuite } from './harness';

// Suites other engineers add to test/e2e/host/ run from their own e2e tests (runHostSuite({ suites })).
test('the in-host suite passes in the real extension host', async () => {
  const fixtures = await fixturePaths();
  // With a model configured, an eager engine start would show in the suite's process check.
  const settings = { 'enclave.model.path': fixtures.model };
  const { exitCode, output } = await runHostSuite({ name: 'host-suite', suites: ['extension'], settings });
  const activation = output.match(/enclave activationMs=([\d.]+)/);
  if (activation) console.log(`Enclave activation in the real extension host: ${activation[1]} ms`);
  assert.equal(exitCode, 0, `host suite failed:\n${output}`);
  assert.match(output, /\d+ passing/, 'mocha reported no passing tests');
  assert.doesNotMatch(output, /\d+ failing/);
  assert.ok(activation, 'the suite did not print the activation time');
});

test(
  'a failing in-host test gives a non-zero exit code',
  { skip: process.env.ENCLAVE_E2E_SELFTEST !== '1' && 'set ENCLAVE_E2E_SELFTEST=1 to run the harness self-test' },
  async () => {
    const { exitCode, output } = await runHostSuite({
      name: 'host-suite-selftest',
      suites: ['extension'],
      grep: 'on purpose',
      env: { ENCLAVE_HOST_SELFTEST_FAIL: '1' },
    });
    assert.notEqual(exitCode, 0, output);
    assert.match(output, /1 failing/);
  },
);
