import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { MetricEvent } from '../../src/metrics/events';
import { MeteredBackend } from '../../src/metrics/metered';
import { summarize } from '../../src/metrics/stats';
import { FakeBackend, fakeStats } from './fakes';

function metered(inner: FakeBackend, enabled = true) {
  const events: MetricEvent[] = [];
  const backend = new MeteredBackend(
    inner,
    { enabled: () => enabled, record: (e) => events.push(e), dimensions: () => ({ model: 'M', adapter: 'A' }) },
    () => 42,
  );
  return { backend, events };
}

test('chat and review generations are recorded with their throughput; completions are not (the provider records those)', async () => {
  const inner = new FakeBackend({
    chat: () => ({ text: 'hi', stats: fakeStats({ generatedTokens: 50, totalMs: 1000, timeToFirstTokenMs: 100 }) }),
    structured: () => ({ findings: [] }),
    fim: () => 'x',
    stats: { generatedTokens: 30, totalMs: 3000 },
  });
  const { backend, events } = metered(inner);
  await backend.chat({ messages: [], maxTokens: 10 });
  await backend.generateStructured({ messages: [], maxTokens: 10, schema: {} } as never);
  await backend.completeFim({ documentKey: 'd', prompt: 'p', maxTokens: 4 });
  assert.deepEqual(
    events.map((e) => [e.kind, e.kind === 'generation' ? e.feature : '', e.model, e.adapter, e.t]),
    [
      ['generation', 'chat', 'M', 'A', 42],
      ['generation', 'review', 'M', 'A', 42],
    ],
  );
  const s = summarize(events);
  assert.equal(s.chatTokensPerSecond, 50);
  assert.equal(s.reviewTokensPerSecond, 10);
});

test('a failed call is recorded as an error and still fails; a cancelled one and a disabled recorder record nothing', async () => {
  const inner = new FakeBackend({
    chat: () => {
      throw new Error('engine crashed');
    },
  });
  const { backend, events } = metered(inner);
  await assert.rejects(backend.chat({ messages: [], maxTokens: 10 }), /engine crashed/);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(backend.chat({ messages: [], maxTokens: 10 }, { signal: controller.signal }));
  assert.deepEqual(
    events.map((e) => e.kind),
    ['engine'],
  );
  const off = metered(new FakeBackend({ chat: () => 'x' }), false);
  await off.backend.chat({ messages: [], maxTokens: 1 });
  assert.equal(off.events.length, 0);
});
