import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { discoverAdapters, parseScale, selectionLabel } from '../../src/adapters/registry';

describe('adapter registry', () => {
  let root: string;
  let workspace: string;
  let shared: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'enclave-registry-'));
    workspace = join(root, 'project');
    shared = join(root, 'shared-adapters');
    await mkdir(join(workspace, '.enclave', 'adapters', 'team'), { recursive: true });
    await writeFile(join(workspace, '.enclave', 'adapters', 'project-style.gguf'), 'x');
    await writeFile(join(workspace, '.enclave', 'adapters', 'team', 'nested.GGUF'), 'x');
    await writeFile(join(workspace, '.enclave', 'adapters', 'README.md'), 'x');
    await mkdir(join(workspace, 'more-adapters'), { recursive: true });
    await writeFile(join(workspace, 'more-adapters', 'relative.gguf'), 'x');
    await mkdir(shared, { recursive: true });
    await writeFile(join(shared, 'company.gguf'), 'xyz');
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('finds adapters in .enclave/adapters and configured folders (absolute and workspace-relative)', async () => {
    const { adapters, skippedUntrusted } = await discoverAdapters({
      workspaceFolders: [workspace],
      folders: [shared, 'more-adapters'],
      trusted: true,
    });
    assert.deepEqual(
      adapters.map((a) => [a.name, a.origin]),
      [
        ['project-style', 'workspace'],
        ['nested', 'workspace'],
        ['company', 'folder'],
        ['relative', 'workspace'],
      ],
    );
    assert.equal(adapters.find((a) => a.name === 'company')?.size, 3);
    assert.deepEqual(skippedUntrusted, []);
  });

  it('in an untrusted workspace offers only adapters outside it and lists the skipped ones', async () => {
    const { adapters, skippedUntrusted } = await discoverAdapters({
      workspaceFolders: [workspace],
      folders: [shared, 'more-adapters'],
      trusted: false,
    });
    assert.deepEqual(
      adapters.map((a) => a.name),
      ['company'],
    );
    assert.equal(skippedUntrusted.length, 3);
  });

  it('in an untrusted workspace skips a folder whose name starts with two dots (still inside the workspace)', async () => {
    const dotted = join(workspace, '..dotted');
    await mkdir(dotted, { recursive: true });
    await writeFile(join(dotted, 'sneaky.gguf'), 'x');
    try {
      const { adapters, skippedUntrusted } = await discoverAdapters({ workspaceFolders: [workspace], folders: [dotted], trusted: false });
      assert.deepEqual(
        adapters.map((a) => a.name),
        [],
      );
      assert.ok(skippedUntrusted.some((p) => p.endsWith('sneaky.gguf')));
    } finally {
      await rm(dotted, { recursive: true, force: true });
    }
  });

  it('never resolves a relative folder against the working directory', async () => {
    const cwd = process.cwd();
    process.chdir(workspace);
    try {
      const { adapters } = await discoverAdapters({ workspaceFolders: [], folders: ['more-adapters'], trusted: true });
      assert.deepEqual(
        adapters.map((a) => a.name),
        [],
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('parses a scale and labels the selection', () => {
    assert.equal(parseScale('0.5'), 0.5);
    assert.equal(parseScale('1'), 1);
    assert.equal(parseScale(''), undefined);
    assert.equal(parseScale('-1'), undefined);
    assert.equal(parseScale('abc'), undefined);
    assert.equal(selectionLabel(undefined), '$(layers) no adapter');
    assert.equal(selectionLabel({ path: '/a/project-style.gguf', scale: 1 }), '$(layers) project-style');
    assert.equal(selectionLabel({ path: '/a/project-style.gguf', scale: 0.8 }), '$(layers) project-style ×0.8');
  });
});
