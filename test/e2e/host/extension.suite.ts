// Runs inside the real extension host (code-server's Node remote extension host).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

import * as vscode from 'vscode';

const extensionId = 'enclave-dev.enclave';

interface EnclaveApi {
  readonly activationMs: number;
}

interface Manifest {
  contributes: { commands: { command: string }[] };
  activationEvents: string[];
}

/** Command lines of the extension host's child processes (Linux /proc). */
function childProcesses(): string[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== process.pid) return [];
        return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()];
      } catch (error) {
        // A process that exited meanwhile is gone; anything else (no permission, no /proc) must
        // fail the test, or "no engine process" would pass without having looked.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return [];
        throw error;
      }
    });
}

describe('Enclave in the extension host', () => {
  let extension: vscode.Extension<EnclaveApi>;

  before(() => {
    const found = vscode.extensions.getExtension<EnclaveApi>(extensionId);
    assert.ok(found, `${extensionId} is not installed in this extension host`);
    extension = found;
  });

  it('activates and reports its activation time', async () => {
    const api = await extension.activate();
    assert.equal(extension.isActive, true);
    assert.equal(typeof api.activationMs, 'number');
    assert.ok(api.activationMs > 0, `activationMs ${api.activationMs}`);
    assert.ok(api.activationMs < 5_000, `activation took ${api.activationMs} ms`);
    console.log(`enclave activationMs=${api.activationMs.toFixed(1)}`);
  });

  it('activates lazily (onStartupFinished, no "*")', () => {
    const manifest = extension.packageJSON as Manifest;
    assert.ok(!manifest.activationEvents.includes('*'), 'activation event "*" slows every window');
  });

  it('registers every command that package.json contributes', async () => {
    await extension.activate();
    const declared = (extension.packageJSON as Manifest).contributes.commands.map((c) => c.command);
    assert.ok(declared.length > 0);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((command) => !registered.has(command));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  it('does not start the engine (model) on activation', async () => {
    await extension.activate();
    // Give a would-be eager start time to fork its engine process.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // The reader must see a child it knows is there, or an empty list proves nothing.
    const marker = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'enclave-proc-reader-check'], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: 'ignore',
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(
        childProcesses().some((cmd) => cmd.includes('enclave-proc-reader-check')),
        'the /proc reader does not see a known child process',
      );
    } finally {
      marker.kill();
    }
    const engines = childProcesses().filter((cmd) => /worker\.js|node-llama-cpp|llama/.test(cmd));
    assert.deepEqual(engines, [], `an engine process runs right after activation: ${engines.join(' | ')}`);
  });
});
