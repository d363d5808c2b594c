// Enclave's models in VS Code's language-model API: host/lm.suite.ts runs inside the real extension
// host (selectChatModels, streaming, cancel, token counts, a tool round trip) on the fixture model.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';

import { fixturePaths, runHostSuite } from './harness';

test('vscode.lm: select, stream, cancel, count tokens and a tool round trip with an Enclave model', async () => {
  const fixtures = await fixturePaths();
  const settings = { 'enclave.model.path': fixtures.model, 'enclave.engine.threads': 1, 'enclave.engine.contextSize': 2048 };
  const { exitCode, output } = await runHostSuite({ name: 'lm-host', suites: ['lm'], settings });
  assert.equal(exitCode, 0, `lm host suite failed:\n${output}`);
  assert.match(output, /\d+ passing/);
  assert.doesNotMatch(output, /\d+ failing/);
});
