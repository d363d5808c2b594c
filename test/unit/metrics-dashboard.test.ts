import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { defaultDatasetDir } from '../../src/adapters/dataset';
import { dashboardData, eventsToCsv, parsePageMessage } from '../../src/metrics/dashboardData';
import type { MetricEvent } from '../../src/metrics/events';
import { renderDashboardHtml } from '../../src/metrics/html';
import { evaluateRepository } from '../../src/metrics/repository';
import { MetricsStore } from '../../src/metrics/store';
import { FakeBackend } from './fakes';

const d = { language: 'python', model: 'm', adapter: '' };

test('the page gets a strict CSP: nonce-only scripts, no inline styles, no remote origins', () => {
  const html = renderDashboardHtml({
    cspSource: 'https://webview.test',
    nonce: 'abcdefghijklmnopqrstuv',
    scriptUri: 'https://webview.test/m.js',
    styleUri: 'https://webview.test/m.css',
  });
  const csp = /content="([^"]+)"/.exec(html)![1];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abcdefghijklmnopqrstuv'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:\/\/(?!webview\.test)/);
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.throws(() => renderDashboardHtml({ cspSource: 'x', nonce: 'short', scriptUri: '', styleUri: '' }));
});

test('page messages are checked: known ones pass, anything else is dropped', () => {
  assert.deepEqual(parsePageMessage({ type: 'range', range: 'week' }), { type: 'range', range: 'week' });
  assert.deepEqual(parsePageMessage({ type: 'export', format: 'csv' }), { type: 'export', format: 'csv' });
  assert.deepEqual(parsePageMessage({ type: 'command', command: 'cancel' }), { type: 'command', command: 'cancel' });
  for (const bad of [
    null,
    'ready',
    { type: 'range', range: 'toString' },
    { type: 'export', format: 'exe' },
    { type: 'command', command: 'rm' },
  ])
    assert.equal(parsePageMessage(bad), undefined, JSON.stringify(bad));
});

test('CSV: one row per event, cells quoted where needed and formula-looking text defused', () => {
  const events: MetricEvent[] = [
    { kind: 'shown', t: 0, source: 'model', latencyMs: 120, chars: 4, ...d },
    { kind: 'engine', t: 1000, what: 'error', message: '=HYPERLINK("x"), boom', ...d },
  ];
  const lines = eventsToCsv(events).trimEnd().split('\n');
  assert.equal(lines.length, 3);
  const header = lines[0].split(',');
  const row = lines[1].split(',');
  assert.equal(row[header.indexOf('latencyMs')], '120');
  assert.equal(row[header.indexOf('time')], '1970-01-01T00:00:00.000Z');
  assert.ok(lines[2].endsWith(',"=HYPERLINK(""x""), boom"'));
});

test('dashboard data: the range picks the events, the groups and the timeline', () => {
  const store = new MetricsStore();
  const now = 10 * 86_400_000;
  store.record({ kind: 'shown', t: now - 2 * 86_400_000, source: 'model', latencyMs: 900, chars: 1, ...d });
  store.record({ kind: 'shown', t: now - 60_000, source: 'model', latencyMs: 100, chars: 1, ...d, language: 'go' });
  store.record({ kind: 'accepted', t: now - 30_000, chars: 1, partial: false, ...d, language: 'go' });
  const day = dashboardData(store, 'day', now, { enabled: true, slo: { completionP95Ms: 500 } });
  assert.equal(day.summary.shown, 1);
  assert.deepEqual(Object.keys(day.byLanguage), ['go']);
  assert.equal(
    day.timeline.reduce((n, p) => n + p.shown, 0),
    1,
  );
  const all = dashboardData(store, 'all', now, { enabled: true, slo: { completionP95Ms: 500 } });
  assert.equal(all.summary.shown, 2);
  assert.equal(all.summary.latencyP95, 900);
});

const fileWith = (root: string, rel: string, text: string) => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
};
const code =
  'def area(width, height):\n    result = width * height\n    return result\n\n\nclass Counter:\n    def up(self):\n        self.count += 1\n        return self.count\n';

test('a repository without source files gets a clear message, not an empty table', async () => {
  const root = mkdtempSync(join(tmpdir(), 'eval-empty-'));
  fileWith(root, 'README.md', '# notes\n\nnothing to run\n');
  fileWith(root, 'dist/app.min.js', 'x'.repeat(5000));
  const result = await evaluateRepository(new FakeBackend(), {
    root,
    storage: mkdtempSync(join(tmpdir(), 'st-')),
    adapterFolders: [],
    trusted: true,
  });
  assert.ok('noSources' in result);
});

test('files of a dataset export are left out when others were held out, and the evaluation says so', async () => {
  const root = mkdtempSync(join(tmpdir(), 'eval-held-'));
  const storage = mkdtempSync(join(tmpdir(), 'st-'));
  fileWith(root, 'trained.py', code);
  fileWith(root, 'held.py', code.replace(/area/g, 'surface'));
  const dataset = defaultDatasetDir(storage, root);
  mkdirSync(dataset, { recursive: true });
  writeFileSync(join(dataset, 'fim.jsonl'), JSON.stringify({ text: 'x', path: 'trained.py' }) + '\n');
  const backend = new FakeBackend({ fim: () => 'result', setAdapters: (adapters) => ({ adapters, switchMs: 0, modelReloaded: false }) });
  const result = await evaluateRepository(backend, { root, storage, adapterFolders: [], trusted: true });
  assert.ok(!('noSources' in result));
  if ('noSources' in result) return;
  assert.equal(result.files, 1);
  assert.ok(
    backend.fimRequests.every((r) => !r.prompt.includes('def area')),
    'no case from the trained file',
  );
  assert.ok(result.notes.some((n) => /held out/.test(n)));
  assert.deepEqual(
    result.scores.map((s) => s.label),
    ['No adapter'],
  );
});

test("the other model profile's model is evaluated in an engine of its own, on the same cases, then closed", async () => {
  const root = mkdtempSync(join(tmpdir(), 'eval-profile-'));
  const storage = mkdtempSync(join(tmpdir(), 'st-'));
  fileWith(root, 'a.py', code);
  const record = (path: string, name: string) => ({ path, name, source: 'local file', addedAt: '2026-12-01T00:00:00Z' });
  writeFileSync(
    join(storage, 'profiles.json'),
    JSON.stringify({
      version: 1,
      active: 'stable',
      profiles: {
        stable: { completion: record('/m/stable.gguf', 'stable') },
        experimental: { completion: record('/m/next.gguf', 'next') },
      },
    }),
  );
  const current = new FakeBackend({
    info: { modelPath: '/m/stable.gguf' },
    fim: () => 'x',
    setAdapters: (adapters) => ({ adapters, switchMs: 0, modelReloaded: false }),
  });
  const opened: string[] = [];
  const other = new FakeBackend({
    info: { modelPath: '/m/next.gguf', modelName: 'next' },
    fim: () => 'y',
    setAdapters: (adapters) => ({ adapters, switchMs: 0, modelReloaded: false }),
  });
  const result = await evaluateRepository(current, {
    root,
    storage,
    adapterFolders: [],
    trusted: true,
    openModel: (path) => (opened.push(path), other),
  });
  if ('noSources' in result) return assert.fail(result.noSources);
  assert.deepEqual(opened, ['/m/next.gguf']);
  assert.deepEqual(
    result.scores.map((s) => s.label),
    ['No adapter', 'Experimental profile: next'],
  );
  assert.equal(other.fimRequests.length, current.fimRequests.length);
  assert.equal(other.disposed, true);
});
