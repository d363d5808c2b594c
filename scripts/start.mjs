// `npm start`: Enclave in a real VS Code (code-server) on http://127.0.0.1, ready to try.
//   npm start                      the sample workspace (a copy in .tmp/sample-workspace, a git repo
//                                  with one uncommitted change for review to look at)
//   npm start -- /path/to/folder   your own folder
//   npm start -- --port 8080 --cpu --fresh
// Model: the setting enclave.model.path, else the env ENCLAVE_MODEL, else the generated demo model
// (random weights: it shows the mechanics, its text is nonsense; the status bar says so). The model
// is written to <user-data>/Machine/settings.json: code-server's window is a remote window, which
// reads machine-scoped settings such as enclave.model.path from there.
// Nothing is reachable from the editor but this machine: no marketplace, no telemetry.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join, resolve } from 'node:path';

import { ensureCodeServer, ensureFixtures, root, tools } from './setup.mjs';

const stateDir = join(root, '.tmp', 'code-server');
const userDataDir = join(stateDir, 'user-data');
const extensionsDir = join(stateDir, 'extensions');
const configFile = join(stateDir, 'config.yaml');
const serverLog = join(stateDir, 'server.log');
const sampleCopy = join(root, '.tmp', 'sample-workspace');

function log(message) {
  console.log(`[start] ${message}`);
}

function parseArgs(argv) {
  const options = { folder: '', port: 0, cpu: false, fresh: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--port') options.port = Number(argv[++i]);
    else if (arg === '--cpu') options.cpu = true;
    else if (arg === '--fresh') options.fresh = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: npm start -- [folder] [--port N] [--cpu] [--fresh]\n  --cpu    package only the CPU binaries (faster)\n  --fresh  forget the editor state in .tmp/code-server and the sample workspace copy',
      );
      process.exit(0);
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else options.folder = resolve(arg);
  }
  return options;
}

function portIsFree(port) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

async function choosePort(wanted) {
  if (wanted) {
    if (!(await portIsFree(wanted))) throw new Error(`port ${wanted} is in use`);
    return wanted;
  }
  for (let port = 8080; port < 8100; port++) if (await portIsFree(port)) return port;
  throw new Error('no free port in 8080–8099; pass --port');
}

/** A GPU runtime the packaged CUDA or Vulkan binaries could use (else package the CPU ones only). */
function machineHasGpu() {
  const icd = '/usr/share/vulkan/icd.d';
  return existsSync('/dev/nvidia0') || (existsSync(icd) && spawnSync('ls', [icd], { encoding: 'utf8' }).stdout.trim() !== '');
}

function git(cwd, ...args) {
  const result = spawnSync('git', ['-c', 'user.name=Enclave Demo', '-c', 'user.email=demo@enclave.invalid', ...args], {
    cwd,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The sample workspace copy: a git repo whose last commit is the sample, plus one uncommitted change. */
function prepareSampleWorkspace() {
  if (!existsSync(sampleCopy)) {
    cpSync(join(root, 'test', 'sample-workspace'), sampleCopy, { recursive: true });
    log(`copied the sample workspace to ${sampleCopy}`);
  }
  if (!existsSync(join(sampleCopy, '.git'))) {
    git(sampleCopy, 'init', '-q', '-b', 'main');
    git(sampleCopy, 'add', '-A');
    git(sampleCopy, 'commit', '-q', '-m', 'Corner Shop: cart, sales report, price service');
    // Something for "Enclave: Review Uncommitted Changes" to find: an off-by-one in the discount
    // threshold and a quantity that may go negative.
    const cart = join(sampleCopy, 'src', 'cart.ts');
    const text = readFileSync(cart, 'utf8')
      .replace('if (this.subtotal() >= discount.minimumSubtotal) {', 'if (this.subtotal() > discount.minimumSubtotal) {')
      .replace(
        '  subtotal(): Cents {',
        '  removeItem(sku: string, quantity: number): void {\n    const item = this.items.get(sku);\n    if (item) item.quantity -= quantity;\n  }\n\n  subtotal(): Cents {',
      );
    writeFileSync(cart, text);
    log('made it a git repo with one uncommitted change (src/cart.ts) to review');
  }
  return sampleCopy;
}

function readSettings(path) {
  if (!existsSync(path)) return {};
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    return null; // JSONC the user edited by hand: leave it alone
  }
}

/** Enclave's settings whose scope is machine or machine-overridable (package.json). */
function machineSettingKeys() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const sections = [manifest.contributes?.configuration ?? []].flat();
  const keys = new Set();
  for (const section of sections) {
    for (const [key, spec] of Object.entries(section.properties ?? {}))
      if (spec.scope === 'machine' || spec.scope === 'machine-overridable') keys.add(key);
  }
  return keys;
}

/**
 * Writes the settings: quiet offline defaults in the user settings, and the model. code-server's
 * window is a remote window: machine-scoped settings such as enclave.model.path are read from the
 * remote's Machine settings (<user-data>/Machine/settings.json), so the model (the one configured,
 * else the demo model) and Enclave's other machine-scoped settings from the user settings go there.
 */
function writeUserSettings() {
  const path = join(userDataDir, 'User', 'settings.json');
  const machinePath = join(userDataDir, 'Machine', 'settings.json');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(join(userDataDir, 'Machine'), { recursive: true });
  const settings = readSettings(path);
  const machine = readSettings(machinePath);
  if (settings === null || machine === null) {
    log(`${settings === null ? path : machinePath} is not plain JSON; leaving the settings as they are`);
    return settings;
  }
  const defaults = {
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'chat.disableAIFeatures': true,
    'workbench.startupEditor': 'none',
    'editor.inlineSuggest.enabled': true,
    // VS Code 1.139 opens its own (AI) chat in the secondary side bar by default.
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
  };
  for (const [key, value] of Object.entries(defaults)) if (!(key in settings)) settings[key] = value;

  // A path into the fixtures is the demo model an earlier `npm start` wrote.
  const isDemo = (value) => typeof value === 'string' && value.startsWith(join(root, 'test', 'fixtures'));
  const own = (value) => typeof value === 'string' && value !== '' && !isDemo(value);
  const configured = own(machine['enclave.model.path'])
    ? machine['enclave.model.path']
    : own(settings['enclave.model.path'])
      ? settings['enclave.model.path']
      : '';
  let model;
  if (configured) {
    machine['enclave.model.path'] = configured;
    model = `${configured} (setting enclave.model.path)`;
  } else if (process.env.ENCLAVE_MODEL) {
    delete settings['enclave.model.path'];
    delete machine['enclave.model.path'];
    model = `${process.env.ENCLAVE_MODEL} (env ENCLAVE_MODEL)`;
  } else {
    const fixtures = ensureFixtures();
    if (fixtures?.model) {
      machine['enclave.model.path'] = fixtures.model;
      model = `${fixtures.model} (the generated demo model: random weights, nonsense text)`;
    } else {
      delete machine['enclave.model.path'];
      model = 'none yet (the fixture generator is missing): Enclave will offer to choose one';
    }
    if (isDemo(settings['enclave.model.path'])) delete settings['enclave.model.path'];
  }
  // Enclave's other machine-scoped settings the user set in the user settings apply only from there.
  for (const key of machineSettingKeys()) {
    if (key !== 'enclave.model.path' && key in settings && !(key in machine)) machine[key] = settings[key];
  }
  writeFileSync(path, `${JSON.stringify(settings, null, 2)}\n`);
  writeFileSync(machinePath, `${JSON.stringify(machine, null, 2)}\n`);
  log(`model: ${model}`);
  return settings;
}

function packageVsix(cpuOnly) {
  const target = `${process.platform}-${process.arch === 'arm' ? 'armhf' : process.arch}`;
  const out = join('.tmp', cpuOnly ? `enclave-${target}-cpu.vsix` : `enclave-${target}.vsix`);
  const args = ['scripts/package.mjs', '--if-stale', '--no-verify', '--out', out];
  if (cpuOnly) args.push('--gpu', 'cpu');
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) {
    console.log(result.stdout);
    throw new Error('packaging failed');
  }
  const summary = result.stdout.split('\n').find((l) => /\.vsix: |is up to date/.test(l));
  log(summary?.trim() ?? `packaged ${out}`);
  return join(root, out);
}

function installVsix(vsix, env) {
  const marker = join(stateDir, 'installed-vsix.txt');
  const stamp = `${vsix} ${statSync(vsix).mtimeMs}`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === stamp) return;
  const result = spawnSync(
    tools.node24,
    [
      tools.codeServerEntry,
      '--config',
      configFile,
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      extensionsDir,
      '--install-extension',
      vsix,
      '--force',
    ],
    {
      env,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0 || !/successfully installed/i.test(result.stdout))
    throw new Error(`installing ${basename(vsix)} failed:\n${result.stdout}\n${result.stderr}`);
  writeFileSync(marker, stamp);
  log(`installed ${basename(vsix)} into ${extensionsDir}`);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  if (options.fresh) {
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(sampleCopy, { recursive: true, force: true });
  }
  const did = ensureCodeServer();
  if (did.length) log(`installed ${did.join(', ')}`);
  const folder = options.folder || prepareSampleWorkspace();
  if (!existsSync(folder)) throw new Error(`${folder} does not exist`);

  mkdirSync(extensionsDir, { recursive: true });
  writeFileSync(configFile, 'auth: none\ncert: false\n');
  const env = { ...process.env, PATH: `${tools.node24Bin}:${process.env.PATH}`, EXTENSIONS_GALLERY: '{}' };
  delete env.NODE_OPTIONS;
  const cpuOnly = options.cpu || !machineHasGpu();
  if (cpuOnly && !options.cpu) log('no CUDA or Vulkan runtime found: packaging the CPU binaries only');
  installVsix(packageVsix(cpuOnly), env);
  writeUserSettings();

  const port = await choosePort(options.port);
  const args = [tools.codeServerEntry, '--config', configFile, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  args.push('--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check');
  if (!options.folder) args.push('--disable-workspace-trust'); // the sample is ours; your folder gets VS Code's trust prompt
  args.push(folder);
  writeFileSync(serverLog, '');
  const server = spawn(tools.node24, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (chunk) => appendFileSync(serverLog, chunk));
  server.stderr.on('data', (chunk) => appendFileSync(serverLog, chunk));

  let stopping = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    setTimeout(() => {
      try {
        process.kill(-server.pid, 'SIGKILL');
      } catch {
        // gone
      }
      process.exit(code);
    }, 2_000).unref();
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  server.on('exit', (code) => {
    if (!stopping) {
      console.error(`[start] code-server exited (${code}); see ${serverLog}`);
      process.exit(1);
    }
    process.exit(0);
  });

  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s (server log: ${serverLog})`);
  console.log(
    `\n  Enclave in VS Code: ${url}/?folder=${encodeURI(folder)}\n\n  Open it in a browser on this machine (it listens on 127.0.0.1 only). Ctrl+C stops it.\n`,
  );
}

main().catch((err) => {
  console.error(`[start] ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
