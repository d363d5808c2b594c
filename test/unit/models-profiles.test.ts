import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ProfileStore, describeRecord, settingsFor, type ModelRecord } from '../../src/models/profiles';

const record = (name: string): ModelRecord => ({
  path: `/models/${name}.gguf`,
  name,
  sha256: 'a'.repeat(64),
  source: `hf:Qwen/${name}-GGUF:Q4_K_M`,
  addedAt: '2026-11-26T08:00:00.000Z',
});

describe('model profiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enclave-profiles-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('starts empty on stable and survives a missing or corrupt file', async () => {
    const store = new ProfileStore(join(dir, 'none', 'profiles.json'));
    assert.deepEqual(await store.active(), { name: 'stable', profile: {} });
    const corrupt = join(dir, 'corrupt.json');
    await writeFile(corrupt, '{ not json');
    assert.equal((await new ProfileStore(corrupt).load()).active, 'stable');
  });

  it('switches between stable and experimental in one call and rolls back in one call', async () => {
    const file = join(dir, 'a.json');
    const store = new ProfileStore(file);
    await store.setModel('stable', 'completion', record('7b-base'));
    await store.setModel('stable', 'draft', record('0.5b-base'));
    await store.setModel('experimental', 'completion', record('14b-base'));

    await store.switchTo('experimental');
    let active = await store.active();
    assert.equal(active.name, 'experimental');
    assert.deepEqual(settingsFor(active.profile), {
      'model.path': '/models/14b-base.gguf',
      'model.chatPath': '',
      'model.nextEditPath': '',
      'model.draftPath': '',
    });

    await store.rollback();
    active = await store.active();
    assert.equal(active.name, 'stable');
    assert.equal(settingsFor(active.profile)['model.path'], '/models/7b-base.gguf');
    assert.equal(settingsFor(active.profile)['model.draftPath'], '/models/0.5b-base.gguf');

    // Persisted: a new store over the same file sees the same state.
    const reread = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(reread.active, 'stable');
    assert.equal(reread.profiles.experimental.completion.name, '14b-base');
    assert.equal((await store.toggle()).active, 'experimental');
    assert.equal((await new ProfileStore(file).active()).name, 'experimental');
  });

  it('rolling back on stable restores the stable profile before its last change, keeping the newer one as experimental', async () => {
    const store = new ProfileStore(join(dir, 'b.json'));
    await store.setModel('stable', 'completion', record('3b'));
    await store.setModel('stable', 'completion', record('7b'));
    const state = await store.rollback();
    assert.equal(state.profiles.stable.completion?.name, '3b');
    assert.equal(state.profiles.experimental.completion?.name, '7b');
  });

  it('promotes experimental to stable, and the old stable can be rolled back to', async () => {
    const store = new ProfileStore(join(dir, 'c.json'));
    await store.setModel('stable', 'completion', record('3b'));
    await store.setModel('experimental', 'completion', record('7b'));
    await store.switchTo('experimental');
    const promoted = await store.promote();
    assert.equal(promoted.active, 'stable');
    assert.equal(promoted.profiles.stable.completion?.name, '7b');
    assert.equal((await store.rollback()).profiles.stable.completion?.name, '3b');
  });

  it('describes a record with name, hash, source and date', () => {
    const text = describeRecord('completion', record('7b'));
    assert.match(text, /^completion: 7b \(sha256 aaaaaaaaaaaa…, from hf:Qwen\/7b-GGUF:Q4_K_M, added 2026-11-26\) \/models\/7b\.gguf$/);
    assert.equal(describeRecord('draft', undefined), 'draft: none');
  });
});
