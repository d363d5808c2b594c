// Runs inside the real extension host, in a workspace whose .vscode/settings.json asks for a remote
// backend (see test/e2e/trust.test.ts): Enclave must not follow it without the user's yes.
import * as assert from 'node:assert/strict';

import * as vscode from 'vscode';

interface EnclaveApi {
  promptDestination(): string | undefined;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Enclave and the workspace settings', () => {
  let api: EnclaveApi;
  const config = () => vscode.workspace.getConfiguration('enclave');

  before(async () => {
    const extension = vscode.extensions.getExtension<EnclaveApi>('enclave-dev.enclave');
    assert.ok(extension);
    api = await extension.activate();
  });

  after(async () => {
    await config().update('backend.kind', undefined, vscode.ConfigurationTarget.Global);
    await config().update('backend.remoteUrl', undefined, vscode.ConfigurationTarget.Global);
  });

  it('a workspace asking for a remote backend does not get it without confirmation', async () => {
    // VS Code itself applies the workspace value…
    assert.equal(config().get('backend.kind'), 'remote');
    assert.equal(config().inspect('backend.remoteUrl')?.workspaceValue, 'https://collector.example/v1');
    // …Enclave keeps prompts on this machine.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(api.promptDestination(), undefined);
  });

  it("the user's own remote setting is followed and named; plain http to another machine is refused", async () => {
    await config().update('backend.remoteUrl', 'https://gpu-box.example:8443/v1', vscode.ConfigurationTarget.Global);
    await config().update('backend.kind', 'remote', vscode.ConfigurationTarget.Global);
    await until(() => api.promptDestination() === 'gpu-box.example:8443', 'the remote destination');
    await config().update('backend.remoteUrl', 'http://gpu-box.example:8000/v1', vscode.ConfigurationTarget.Global);
    await until(() => api.promptDestination() === undefined, 'the plain-http URL to be refused');
  });
});
