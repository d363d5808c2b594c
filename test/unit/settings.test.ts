import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import {
  clampNumber,
  NUMBER_SETTINGS,
  OTHER_DEFAULTS,
  readSnapshot,
  SENSITIVE_SETTINGS,
  UNTRUSTED_IGNORED,
  type Inspected,
  type ReadOptions,
} from '../../src/settings';

interface Schema {
  default?: unknown;
  minimum?: number;
  maximum?: number;
  scope?: string;
}
const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, Schema> } };
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
};
const schema = manifest.contributes.configuration.properties;

/** inspect() over a table of { key: Inspected }. */
const inspectFrom = (table: Record<string, Inspected>) => (key: string) => table[key];
const options = (over: Partial<ReadOptions> = {}): ReadOptions => ({ trusted: true, answer: () => undefined, cores: 8, ...over });

describe('settings: one set of defaults and ranges', () => {
  it('package.json states the same default and range for every numeric setting', () => {
    for (const [key, spec] of Object.entries(NUMBER_SETTINGS)) {
      const entry = schema[`enclave.${key}`];
      assert.ok(entry, `enclave.${key} is not in package.json`);
      assert.equal(entry.default, spec.default, `default of enclave.${key}`);
      assert.equal(entry.minimum, spec.min, `minimum of enclave.${key}`);
      if (key !== 'engine.threads') assert.equal(entry.maximum, spec.max, `maximum of enclave.${key}`);
    }
  });

  it('package.json states the same default for every other setting, and every setting is known here', () => {
    for (const [key, value] of Object.entries(OTHER_DEFAULTS))
      assert.deepEqual(schema[`enclave.${key}`]?.default, value, `default of enclave.${key}`);
    const known = new Set([...Object.keys(NUMBER_SETTINGS), ...Object.keys(OTHER_DEFAULTS)].map((k) => `enclave.${k}`));
    assert.deepEqual(
      Object.keys(schema).filter((k) => !known.has(k)),
      [],
    );
  });

  it('package.json restricts in untrusted workspaces every setting the code ignores there', () => {
    const restricted = new Set(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations);
    assert.deepEqual(
      UNTRUSTED_IGNORED.map((k) => `enclave.${k}`).filter((k) => !restricted.has(k)),
      [],
    );
  });

  it('sensitive settings are not application-scoped away from the confirmation, nor window-scoped', () => {
    for (const key of SENSITIVE_SETTINGS) assert.equal(schema[`enclave.${key}`]?.scope, 'machine-overridable', `scope of enclave.${key}`);
  });
});

describe('settings: clamping', () => {
  it('keeps threads within the machine cores: 4096 never reaches the engine', () => {
    assert.equal(clampNumber('engine.threads', 4096, 2), 2);
    const snapshot = readSnapshot(inspectFrom({ 'engine.threads': { globalValue: 4096 } }), options({ cores: 16 }));
    assert.equal(snapshot.engine.threads, 16);
  });

  it('clamps out-of-range numbers and replaces wrong types with the default', () => {
    const snapshot = readSnapshot(
      inspectFrom({
        'engine.contextSize': { globalValue: 1e12 },
        'engine.sequences': { globalValue: -3 },
        'engine.batchSize': { globalValue: 'big' },
        'chat.temperature': { globalValue: 'hot' },
        'completion.maxTokens': { globalValue: 1e15 },
        'completion.maxTimeMs': { globalValue: Number.NaN },
        'server.port': { globalValue: 70_000 },
      }),
      options(),
    );
    assert.equal(snapshot.engine.contextSize, NUMBER_SETTINGS['engine.contextSize'].max);
    assert.equal(snapshot.engine.sequences, NUMBER_SETTINGS['engine.sequences'].min);
    assert.equal(snapshot.engine.batchSize, NUMBER_SETTINGS['engine.batchSize'].default);
    assert.equal(snapshot.chat.temperature, NUMBER_SETTINGS['chat.temperature'].default);
    assert.equal(snapshot.completion.maxTokens, NUMBER_SETTINGS['completion.maxTokens'].max);
    assert.equal(snapshot.completion.maxTimeMs, NUMBER_SETTINGS['completion.maxTimeMs'].default);
    assert.equal(snapshot.server.port, 65_535);
  });

  it('never lets the batch exceed the context', () => {
    const snapshot = readSnapshot(
      inspectFrom({ 'engine.contextSize': { globalValue: 1024 }, 'engine.batchSize': { globalValue: 4096 } }),
      options(),
    );
    assert.equal(snapshot.engine.batchSize, 1024);
  });
});

describe('settings: switches', () => {
  it('warming on open, definitions and the index in prompts are on by default', () => {
    const snapshot = readSnapshot(inspectFrom({}), options());
    assert.equal(snapshot.completion.warmOnOpen, true);
    assert.equal(snapshot.completion.definitions, true);
    assert.deepEqual(snapshot.index, { chat: true, completion: true });
  });

  it('each is off when set to false, by the user or by a workspace (trusted or not)', () => {
    const table = {
      'completion.warmOnOpen': { globalValue: false },
      'completion.definitions': { globalValue: false },
      'index.chat': { workspaceValue: false },
      'index.completion': { workspaceValue: false },
    };
    for (const trusted of [true, false]) {
      const snapshot = readSnapshot(inspectFrom(table), options({ trusted }));
      assert.equal(snapshot.completion.warmOnOpen, false);
      assert.equal(snapshot.completion.definitions, false);
      assert.deepEqual(snapshot.index, { chat: false, completion: false });
    }
  });

  it('a value of the wrong type is the default', () => {
    const snapshot = readSnapshot(inspectFrom({ 'completion.warmOnOpen': { globalValue: 'no' } }), options());
    assert.equal(snapshot.completion.warmOnOpen, true);
  });
});

describe('settings: where a value may come from', () => {
  it('an untrusted workspace cannot set engine resources or start the server', () => {
    const table = {
      'engine.threads': { workspaceValue: 1 },
      'engine.contextSize': { workspaceValue: 1024 },
      'engine.batchSize': { workspaceValue: 64 },
      'engine.sequences': { workspaceValue: 16 },
      'server.enabled': { workspaceValue: true },
      'completion.maxLines': { workspaceValue: 3 },
    };
    const untrusted = readSnapshot(inspectFrom(table), options({ trusted: false }));
    assert.equal(untrusted.engine.threads, 0);
    assert.equal(untrusted.engine.contextSize, 8192);
    assert.equal(untrusted.engine.batchSize, 512);
    assert.equal(untrusted.engine.sequences, 4);
    assert.equal(untrusted.server.enabled, false);
    assert.equal(untrusted.completion.maxLines, 3, 'harmless settings still apply');
    const trusted = readSnapshot(inspectFrom(table), options({ trusted: true }));
    assert.equal(trusted.server.enabled, true);
    assert.equal(trusted.engine.contextSize, 1024);
  });

  it('a trusted workspace cannot redirect prompts or pick model files without the user saying yes to that value', () => {
    const table = {
      'backend.kind': { globalValue: 'local', workspaceValue: 'remote' },
      'backend.remoteUrl': { workspaceValue: 'https://collector.example/v1' },
      'model.path': { globalValue: '/home/me/models/coder.gguf', workspaceValue: '/tmp/evil.gguf' },
    };
    const unanswered = readSnapshot(inspectFrom(table), options());
    assert.equal(unanswered.backend.kind, 'local');
    assert.equal(unanswered.backend.remoteUrl, '');
    assert.equal(unanswered.modelPath, '/home/me/models/coder.gguf');
    assert.deepEqual(unanswered.pending.map((p) => p.key).sort(), ['backend.kind', 'backend.remoteUrl', 'model.path']);
    assert.equal(unanswered.origins['model.path'], 'user');

    const declined = readSnapshot(inspectFrom(table), options({ answer: () => false }));
    assert.equal(declined.backend.kind, 'local');
    assert.deepEqual(declined.pending, [], 'a remembered no is not asked again');

    const approved = readSnapshot(inspectFrom(table), options({ answer: (key, value) => key !== 'model.path' && value !== undefined }));
    assert.equal(approved.backend.kind, 'remote');
    assert.equal(approved.backend.remoteUrl, 'https://collector.example/v1');
    assert.equal(approved.origins['backend.remoteUrl'], 'workspace');
    assert.equal(approved.modelPath, '/home/me/models/coder.gguf', 'each value is approved on its own');
  });

  it('an untrusted workspace is never asked about sensitive values', () => {
    const snapshot = readSnapshot(
      inspectFrom({ 'backend.remoteUrl': { workspaceValue: 'https://x.example' } }),
      options({ trusted: false, answer: () => true }),
    );
    assert.equal(snapshot.backend.remoteUrl, '');
    assert.deepEqual(snapshot.pending, []);
  });

  it('a workspace value equal to the user value needs no confirmation', () => {
    const snapshot = readSnapshot(inspectFrom({ 'model.path': { globalValue: '/m.gguf', workspaceValue: '/m.gguf' } }), options());
    assert.equal(snapshot.modelPath, '/m.gguf');
    assert.deepEqual(snapshot.pending, []);
  });

  it('a workspace value equal to the default (and no user value) needs no confirmation', () => {
    const snapshot = readSnapshot(inspectFrom({ 'backend.kind': { workspaceValue: 'local' } }), options());
    assert.equal(snapshot.backend.kind, 'local');
    assert.deepEqual(snapshot.pending, []);
  });

  it('the environment model is the fallback after the settings', () => {
    const snapshot = readSnapshot(inspectFrom({}), options({ env: { ENCLAVE_MODEL: '/env.gguf' } }));
    assert.equal(snapshot.modelPath, '/env.gguf');
  });
});
