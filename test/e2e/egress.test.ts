// Zero egress, proven: Enclave's flows in the real workbench (code-server + Chromium, the real
// engine on the fixture model) with every connect() of code-server's process tree recorded by
// strace. Activation, an inline completion, a chat reply, a review of uncommitted changes, the
// models commands (measure, choose — without a download) and the in-editor OpenAI-compatible server
// answering requests: the extension host, the engine worker and everything they start must
// connect to nothing but this machine. code-server's own processes are attributed and reported
// (test/e2e/artifacts/egress/egress-report.txt), not counted. The requests of Enclave's chat
// webview in Chromium are recorded too. A live canary proves the recorder inside this very run:
// the extension host's git fetches from this machine's own non-loopback address (refused by the
// local kernel, nothing leaves) and that connect must be caught and attributed to the extension
// host. A second test proves the verdict on every path (main thread, worker thread, child process,
// code-server's own processes): deliberate connects to TEST-NET addresses inside a network
// namespace with only loopback (they fail at once with ENETUNREACH, nothing leaves) are recorded,
// attributed and make the verdict fail.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import type { Frame, Request } from 'playwright-core';

import { checkRecorder, formatReport, judgeTrace, straceCommand, type Connect, type EgressReport } from './egress';
import { extensionId, fixturePaths, launch, makeWorkspace, type Workbench } from './harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Throws, listing them, when Enclave's processes connected anywhere but this machine. */
function assertNoEnclaveEgress(report: EgressReport): void {
  assert.deepEqual(
    report.enclaveEgress.map((c) => `${c.family} ${c.address}:${c.port ?? ''} by ${c.chain.join(' ← ')}`),
    [],
    `Enclave connected beyond this machine:\n${formatReport(report)}`,
  );
}

/** This machine's own non-loopback IPv4 address and a closed port on it: connects there are refused locally. */
/**
 * A loopback port free now, below Linux's ephemeral range (32768+), where the connections of
 * code-server's own processes take their local ports (a random pick there once collided).
 */
async function freeLoopbackPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
}

async function canaryAddress(): Promise<{ host: string; port: number } | undefined> {
  const host = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('127.'))?.address;
  if (!host) return undefined;
  const server = createServer();
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
  await new Promise((resolve) => server.close(resolve));
  return { host, port };
}

/** The files under dir (recursively) that match. */
function files(dir: string, match: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), match) : match(join(dir, e.name)) ? [join(dir, e.name)] : [],
  );
}

/** A non-loopback URL, or undefined for this machine and in-page schemes. */
function remoteUrl(url: string): string | undefined {
  if (/^(data|blob|about|chrome|vscode-[\w-]+|devtools):/.test(url)) return undefined;
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return /^(127\.|localhost$|::1$|0\.0\.0\.0$)/.test(host) ? undefined : url;
  } catch {
    return url;
  }
}

async function typeUntilGhost(wb: Workbench, chars: string): Promise<string> {
  for (const ch of chars) {
    await wb.typeText(ch);
    const ghost = await wb.waitForGhostText(8_000).catch(() => '');
    if (ghost.trim()) return ghost;
  }
  throw new Error(`no suggestion after typing ${JSON.stringify(chars)}`);
}

test('zero egress: activation, completion, chat, review, models and the API server connect only to this machine', async (t) => {
  checkRecorder();
  const fixtures = await fixturePaths();
  const workspace = makeWorkspace({ files: { 'src/pricing.ts': 'export const price = 100;\n' } });
  writeFileSync(join(workspace, 'src/pricing.ts'), 'export const price = Number.NaN;\n');
  // The live canary: the workspace's git remote is this machine's own non-loopback address on a
  // closed port. The extension host's git connects there on "Git: Fetch" and is refused by this
  // kernel (nothing leaves the machine); the recorder must catch and attribute that connect.
  const canary = await canaryAddress();
  if (canary) execFileSync('git', ['remote', 'add', 'origin', `git://${canary.host}:${canary.port}/canary.git`], { cwd: workspace });
  const traceDir = mkdtempSync(join(tmpdir(), 'enclave-egress-'));
  const trace = join(traceDir, 'connect.strace');
  const serverPort = await freeLoopbackPort();
  const wb = await launch({
    name: 'egress',
    workspace,
    serverWrapper: straceCommand(trace),
    env: {
      ENCLAVE_MODEL: fixtures.model,
      ENCLAVE_REVIEW_SCHEMA_LIMITS: JSON.stringify({ minFindings: 0, maxFindings: 1, maxMessageChars: 16, maxReplacementChars: 8 }),
    },
    settings: {
      'enclave.model.path': fixtures.model,
      'enclave.engine.gpu': 'cpu',
      'enclave.engine.contextSize': 2048,
      'enclave.completion.maxTokens': 8,
      'enclave.completion.maxLines': 1,
      'enclave.chat.maxTokens': 16,
      'enclave.review.maxTokens': 128,
      'enclave.server.port': serverPort,
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
    },
  });
  // What Chromium fetched from the network on behalf of Enclave's webview (the chat), and
  // everything else it fetched. Webview resources (https://*.vscode-resource.vscode-cdn.net/…) are
  // answered by the webview's service worker from code-server: requests it answered never left.
  const webviewRequests: string[] = [];
  const browserRequests: string[] = [];
  const frameUrls = (request: Request): string => {
    let urls = '';
    try {
      for (let f: Frame | null = request.frame(); f; f = f.parentFrame()) urls += ` ${f.url()}`;
    } catch {
      // a service worker's own request has no frame
    }
    return urls;
  };
  // Requests still open when the workbench closes count too (a connection that hangs).
  const open = new Map<Request, string>();
  wb.context.on('request', (request) => {
    const remote = remoteUrl(request.url());
    if (remote) open.set(request, `${remote}${frameUrls(request)}`);
  });
  const settled = async (request: Request) => {
    const seen = open.get(request);
    if (seen === undefined) return;
    const answeredLocally = (await request.response().catch(() => null))?.fromServiceWorker() === true;
    open.delete(request);
    if (!answeredLocally) (seen.includes(`extensionId=${extensionId}`) ? webviewRequests : browserRequests).push(seen.split(' ')[0]);
  };
  wb.context.on('requestfinished', (request) => void settled(request));
  wb.context.on('requestfailed', (request) => void settled(request));
  let closed = false;
  t.after(async () => {
    if (!closed) await wb.close();
    rmSync(traceDir, { recursive: true, force: true });
  });

  await t.test('completion', () =>
    wb.step('completion', async () => {
      await wb.openFile('cart.ts');
      await wb.press('Control+End');
      await wb.typeText('\n\nexport function totalOf(cart: Cart): Cents {\n');
      assert.ok((await typeUntilGhost(wb, 'return cart.')).trim());
      await wb.press('Escape');
      await wb.screenshot('completion');
    }),
  );

  await t.test('chat', () =>
    wb.step('chat', async () => {
      const chat = wb.chatFrame();
      await wb.press('Control+Alt+I');
      await chat.locator('#input').waitFor({ timeout: 60_000 });
      await chat.locator('#input').fill('What does this file do?');
      await chat.locator('#input').press('Enter');
      const reply = chat.locator('article.message.assistant').last();
      await reply.locator('.message-content').filter({ hasText: /\S/ }).waitFor({ timeout: 120_000 });
      await chat.locator('#send').waitFor({ state: 'visible', timeout: 60_000 });
      await wb.screenshot('chat');
    }),
  );

  await t.test('review', () =>
    wb.step('review', async () => {
      await wb.runCommand('Enclave: Review Uncommitted Changes');
      const done = await wb.waitForLog(
        /review done: uncommitted changes: \d+ findings .*reviewed (\d+), skipped \d+, failed (\d+)/,
        180_000,
      );
      assert.equal(done[1], '1');
      assert.equal(done[2], '0');
      await wb.screenshot('review');
    }),
  );

  await t.test('models: measure and choose (no download)', () =>
    wb.step('models', async () => {
      await wb.runCommand('Enclave: Measure This Machine');
      await wb.waitForLog(/\[models\] recommended: /, 60_000);
      await wb.runCommand('Enclave: Choose a Model for This Machine');
      const role = wb.page.locator('.quick-input-list .monaco-list-row').first();
      await role.waitFor({ timeout: 30_000 });
      await role.click();
      await wb.page
        .locator('.quick-input-widget')
        .filter({ hasText: /Choose the \w+ model/ })
        .waitFor({ timeout: 60_000 });
      await wb.screenshot('models-choose');
      await wb.press('Escape');
    }),
  );

  await t.test('the in-editor API server answers', () =>
    wb.step('api-server', async () => {
      const origin = new URL(wb.url).origin;
      await wb.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
      await wb.runCommand('Enclave: Start/Stop the Local OpenAI-Compatible Server');
      const base = `http://127.0.0.1:${serverPort}`;
      const copy = wb.page.locator('.notifications-toasts .monaco-button', { hasText: 'Copy Token' });
      await copy.waitFor({ timeout: 60_000 });
      await copy.click();
      await sleep(500);
      const token = await wb.page.evaluate(() => navigator.clipboard.readText());
      assert.ok(token.length >= 16, 'the token reached the clipboard');
      assert.equal((await fetch(`${base}/v1/models`)).status, 401);
      const models = await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(models.status, 200);
      const reply = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'enclave', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
      });
      assert.equal(reply.status, 200, await reply.clone().text());
      const body = (await reply.json()) as { choices: unknown[] };
      assert.equal(body.choices.length, 1);
    }),
  );

  await t.test(
    'the live canary: a non-loopback connect from the extension host is caught',
    { skip: canary ? false : 'this machine has no non-loopback address' },
    () =>
      wb.step('canary', async () => {
        await wb.runCommand('Git: Fetch');
        const gitLog = () =>
          files(join(wb.userDataDir, 'logs'), (p) => p.endsWith('Git.log'))
            .map((p) => readFileSync(p, 'utf8'))
            .join('\n');
        const deadline = Date.now() + 30_000;
        while (!/git fetch/.test(gitLog()) && Date.now() < deadline) await sleep(250);
        assert.match(gitLog(), /git fetch/);
        await sleep(2_000);
      }),
  );

  await t.test('no connect() by the extension host, the engine worker or their children left this machine', async () => {
    for (const seen of open.values())
      (seen.includes(`extensionId=${extensionId}`) ? webviewRequests : browserRequests).push(`${seen.split(' ')[0]} (unanswered)`);
    await wb.close();
    closed = true;
    const full = judgeTrace(readFileSync(trace, 'utf8'));
    const isCanary = (c: Connect) => canary !== undefined && c.address === canary.host && c.port === canary.port;
    // The recorder saw the canary, from a child of the extension host: it would see Enclave's egress.
    if (canary) {
      const caught = full.enclaveEgress.filter(isCanary);
      assert.ok(caught.length > 0, `the canary connect to ${canary.host}:${canary.port} was not caught:\n${formatReport(full)}`);
      assert.ok(caught.every((c) => c.chain.includes('extension host')));
    }
    const report = { ...full, enclaveEgress: full.enclaveEgress.filter((c) => !isCanary(c)) };
    const text = [
      canary
        ? `canary: ${full.enclaveEgress.filter(isCanary).length} connect() to ${canary.host}:${canary.port} by the extension host's git, caught (left out of the verdict)`
        : 'canary: none (no non-loopback address)',
      formatReport(report),
      `browser requests beyond this machine by Enclave's webview: ${webviewRequests.length}`,
      ...webviewRequests.map((u) => `  ${u}`),
      `browser requests beyond this machine by the workbench (reported, not counted): ${browserRequests.length}`,
      ...browserRequests.map((u) => `  ${u}`),
    ].join('\n');
    writeFileSync(join(wb.artifactsDir, 'egress-report.txt'), `${text}\n`);
    writeFileSync(join(wb.artifactsDir, 'processes.json'), JSON.stringify(report.processes, null, 2));
    console.log(`[e2e egress]\n${text}`);
    // The record is real: it followed code-server into the extension host and the engine worker.
    const roles = new Set(report.processes.map((p) => p.role));
    assert.ok(roles.has('extension host'), `no extension host in the record: ${[...roles].join(', ')}`);
    assert.ok(roles.has('engine worker'), `no engine worker in the record: ${[...roles].join(', ')}`);
    assert.ok(report.connects.length > 0, 'no connect() recorded at all');
    assertNoEnclaveEgress(report);
    assert.deepEqual(webviewRequests, []);
  });
});

test('the egress detector records, attributes and fails on a non-loopback connect', (t) => {
  checkRecorder();
  const dir = mkdtempSync(join(tmpdir(), 'enclave-egress-proof-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'dist'));
  // Named like Enclave's engine worker: it connects from its main thread, from a worker thread and
  // from a child process it starts, to TEST-NET addresses, plus loopback and a unix socket.
  const connect = (host: string) =>
    `new Promise((done) => require('node:net').connect(9, '${host}').on('error', done).on('connect', done))`;
  writeFileSync(join(dir, 'dist', 'thread.js'), `${connect('192.0.2.2')};\n`);
  writeFileSync(
    join(dir, 'dist', 'worker.js'),
    `const { Worker } = require('node:worker_threads');
     const { spawnSync } = require('node:child_process');
     (async () => {
       await ${connect('192.0.2.1')};
       await ${connect('127.0.0.1')};
       await ${connect('::1')};
       await new Promise((done) => require('node:net').connect(${JSON.stringify(join(dir, 'no.sock'))}).on('error', done));
       await new Promise((done) => new Worker(${JSON.stringify(join(dir, 'dist', 'thread.js'))}).on('exit', done));
       spawnSync(process.execPath, ['-e', ${JSON.stringify(connect('198.51.100.1'))}]);
     })();\n`,
  );
  // And a process named like code-server's pty host: reported, not counted against Enclave.
  writeFileSync(join(dir, 'pty-host.js'), `${connect('203.0.113.1')};\n`);
  const ptyHost = [process.execPath, join(dir, 'pty-host.js'), '--type=ptyHost'];
  const trace = join(dir, 'connect.strace');
  const isRoot = process.getuid?.() === 0;
  // A network namespace with only a (down) loopback: every connect fails at once, nothing leaves.
  const netns = isRoot ? ['unshare', '--net'] : ['unshare', '--map-root-user', '--net'];
  const script = `${[process.execPath, join(dir, 'dist', 'worker.js')].map((a) => `'${a}'`).join(' ')}; ${ptyHost.map((a) => `'${a}'`).join(' ')}`;
  const run = spawnSync(straceCommand(trace)[0], [...straceCommand(trace).slice(1), ...netns, 'sh', '-c', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `${run.stderr}`);

  const report = judgeTrace(readFileSync(trace, 'utf8'));
  console.log(`[egress detector]\n${formatReport(report)}`);
  const egress = (list: typeof report.connects) => list.map((c) => `${c.address} ${c.role}`).sort();
  assert.deepEqual(egress(report.enclaveEgress), ['192.0.2.1 engine worker', '192.0.2.2 engine worker', '198.51.100.1 node -e']);
  assert.ok(
    report.enclaveEgress.every((c) => c.result.startsWith('-1 ENETUNREACH')),
    'nothing left the namespace',
  );
  // The worker thread's connect came from another thread of the same process.
  const fromThread = report.enclaveEgress.find((c) => c.address === '192.0.2.2');
  assert.ok(fromThread && fromThread.tid !== fromThread.pid);
  assert.deepEqual(report.enclaveEgress.find((c) => c.address === '198.51.100.1')?.chain.slice(0, 2), ['node -e', 'engine worker']);
  assert.deepEqual(egress(report.otherEgress), ['203.0.113.1 code-server ptyHost']);
  // Loopback and the unix socket were recorded and allowed.
  const local = report.connects
    .filter((c) => c.local)
    .map((c) => c.family)
    .sort();
  assert.deepEqual(local, ['AF_INET', 'AF_INET6', 'AF_UNIX']);
  // The verdict the e2e test applies fails on this record.
  assert.throws(() => assertNoEnclaveEgress(report), /192\.0\.2\.1/);
});
