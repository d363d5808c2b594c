import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatStatus, type StatusView } from '../../src/completion/status';

const base: StatusView = { enabled: true, languageEnabled: true, generating: false };

test('each engine state reads differently', () => {
  assert.equal(formatStatus(base).text, '$(sparkle) Enclave');
  assert.equal(formatStatus({ ...base, engine: { kind: 'starting' } }).text, '$(loading~spin) Enclave: starting');
  assert.equal(
    formatStatus({ ...base, engine: { kind: 'loading', progress: 0.456, file: '/m.gguf' } }).text,
    '$(loading~spin) Enclave: loading 46%',
  );
  const error = formatStatus({ ...base, engine: { kind: 'error', message: 'Model file not found: /m.gguf' } });
  assert.equal(error.severity, 'error');
  assert.match(error.tooltip, /Model file not found/);
  assert.match(formatStatus({ ...base, engine: { kind: 'crashed', message: 'boom', restartInMs: 2000 } }).tooltip, /Restarting in 2 s/);
});

test('ready shows the model name, the last latency and tokens per second', () => {
  const view: StatusView = {
    ...base,
    engine: { kind: 'ready' },
    modelName: 'Enclave demo (random weights)',
    lastLatencyMs: 123.4,
    tokensPerSecond: 41.7,
  };
  assert.equal(formatStatus(view).text, '$(sparkle) Enclave demo (random weights) · 123 ms · 42 tok/s');
  assert.equal(formatStatus({ ...view, generating: true }).text.startsWith('$(loading~spin) Enclave demo (random weights)'), true);
});

test('disabled globally, per language, and a completion error', () => {
  assert.equal(formatStatus({ ...base, enabled: false, engine: { kind: 'ready' } }).text, '$(circle-slash) Enclave');
  const off = formatStatus({ ...base, languageEnabled: false, languageId: 'markdown', engine: { kind: 'ready' }, modelName: 'M' });
  assert.equal(off.text, '$(circle-slash) M');
  assert.match(off.tooltip, /markdown/);
  const noFim = formatStatus({ ...base, engine: { kind: 'ready' }, modelName: 'Chat', error: 'no fill-in-the-middle tokens' });
  assert.equal(noFim.severity, 'warning');
});

test('long model names are shortened', () => {
  const text = formatStatus({ ...base, engine: { kind: 'ready' }, modelName: 'x'.repeat(80) }).text;
  assert.ok(text.length < 60);
});
