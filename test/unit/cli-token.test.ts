// `enclave serve` never takes the bearer token on the command line, where `ps` shows it to every
// user: --token is refused with what to use instead; --token-file (or stdin) is read and checked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const cli = join(__dirname, '..', '..', 'src', 'engine', 'cli.ts');
const serve = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', cli, 'serve', '--model', '/nonexistent/model.gguf', ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
    env: { ...process.env, ENCLAVE_TOKEN: '' },
  });

describe('enclave serve: the token', () => {
  it('refuses --token (visible in ps) and names the alternatives', () => {
    const run = serve(['--token', 'a-secret-token-0123456789']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--token-file/);
    assert.doesNotMatch(run.stderr + run.stdout, /a-secret-token-0123456789/);
  });

  it('reads --token-file and refuses a missing or short one before loading anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'enclave-cli-'));
    try {
      assert.equal(serve(['--token-file', join(dir, 'missing')]).status, 2);
      writeFileSync(join(dir, 'short'), 'abc\n');
      assert.equal(serve(['--token-file', join(dir, 'short')]).status, 2);
      assert.equal(serve(['--token-file', '-'], 'short\n').status, 2);
      // A good token gets past the token check: the run then fails on the (missing) model instead.
      writeFileSync(join(dir, 'good'), 'good-token-0123456789abcdef\n');
      const run = serve(['--token-file', join(dir, 'good')]);
      assert.equal(run.status, 1);
      assert.doesNotMatch(run.stderr, /token/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
