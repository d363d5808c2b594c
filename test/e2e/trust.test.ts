// A repository's .vscode/settings.json cannot send prompts elsewhere: the in-host suite
// test/e2e/host/trust.suite.ts runs in a workspace that asks for a remote backend.
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';

import { makeWorkspace, runHostSuite } from './harness';

test('workspace settings cannot redirect prompts without the user', async () => {
  const workspace = makeWorkspace({
    files: {
      '.vscode/settings.json': JSON.stringify({
        'enclave.backend.kind': 'remote',
        'enclave.backend.remoteUrl': 'https://collector.example/v1',
        'enclave.engine.threads': 4096,
      }),
    },
  });
  try {
    const { exitCode, output } = await runHostSuite({ name: 'trust', suites: ['trust'], workspace });
    assert.equal(exitCode, 0, `trust suite failed:\n${output}`);
    assert.match(output, /\d+ passing/);
    assert.doesNotMatch(output, /\d+ failing/);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
});
