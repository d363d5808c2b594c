// Builds the production bundles and packages one VSIX for one target platform, then checks it:
// prints its size and contents and loads the packaged node-llama-cpp from an unzipped copy.
//   node scripts/package.mjs [--target linux-x64] [--gpu all|cpu] [--cuda-fallback] [--out file.vsix]
//                            [--no-build] [--no-verify] [--verify-gpu] [--if-stale]
// --no-build packages the repository's dist/ as it is (else a production build of its own).
// --if-stale does nothing when the VSIX is newer than everything that goes into it.
// --gpu cpu ships only the CPU binaries (what the e2e tests use: smaller, faster to install).
// --cuda-fallback also ships @node-llama-cpp/*-cuda-ext (~360 MB): node-llama-cpp loads its
// libggml-cuda.so only when the main CUDA backend fails to load (see Llama.js, "fallback").
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** VS Code target → node's platform/arch, and node-llama-cpp's prebuilt binary packages (CPU first). */
const targets = {
  'linux-x64': { os: 'linux', cpu: 'x64', binaries: ['linux-x64', 'linux-x64-cuda', 'linux-x64-vulkan'], fallback: ['linux-x64-cuda-ext'] },
  'linux-arm64': { os: 'linux', cpu: 'arm64', binaries: ['linux-arm64'], fallback: [] },
  'linux-armhf': { os: 'linux', cpu: 'arm', binaries: ['linux-armv7l'], fallback: [] },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64', binaries: ['mac-arm64-metal'], fallback: [] },
  'darwin-x64': { os: 'darwin', cpu: 'x64', binaries: ['mac-x64'], fallback: [] },
  'win32-x64': { os: 'win32', cpu: 'x64', binaries: ['win-x64', 'win-x64-cuda', 'win-x64-vulkan'], fallback: ['win-x64-cuda-ext'] },
  'win32-arm64': { os: 'win32', cpu: 'arm64', binaries: ['win-arm64'], fallback: [] },
};

/** Runtime dependencies of node-llama-cpp that only a build from source or its CLI uses. */
const buildOnlyDependencies = new Set(['typescript', 'node-addon-api']);

/** A minimatch extglob for a dependency's files, less source maps, TypeScript sources/types and docs. */
const shippedFiles = '!(*.map|*.ts|*.mts|*.cts|*.md|*.markdown)';

/** Files whose change makes a packaged VSIX stale. */
const packagedInputs = [
  'src',
  'media',
  'package.json',
  'esbuild.js',
  '.vscodeignore',
  'README.md',
  'LICENSE',
  'node_modules/node-llama-cpp/package.json',
];

export function currentTarget() {
  const platform = { linux: 'linux', darwin: 'darwin', win32: 'win32' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64', arm: 'armhf' }[process.arch];
  return `${platform}-${arch}`;
}

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** True when `vsix` is missing or older than any source that goes into it. */
export function vsixIsStale(vsix) {
  if (!existsSync(vsix)) return true;
  const built = statSync(vsix).mtimeMs;
  return packagedInputs.some((p) => newestMtime(join(root, p)) > built);
}

function parseArgs(argv) {
  const options = {
    target: currentTarget(),
    gpu: 'all',
    cudaFallback: false,
    out: '',
    build: true,
    verify: true,
    verifyGpu: false,
    ifStale: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--target') options.target = argv[++i];
    else if (arg === '--gpu') options.gpu = argv[++i];
    else if (arg === '--cuda-fallback') options.cudaFallback = true;
    else if (arg === '--out') options.out = argv[++i];
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--no-verify') options.verify = false;
    else if (arg === '--verify-gpu') options.verifyGpu = true;
    else if (arg === '--if-stale') options.ifStale = true;
    else throw new Error(`unknown option ${arg}`);
  }
  if (!targets[options.target]) throw new Error(`unknown target ${options.target}; one of ${Object.keys(targets).join(', ')}`);
  if (!['all', 'cpu'].includes(options.gpu)) throw new Error('--gpu is all or cpu');
  options.out ||= `enclave-${options.target}.vsix`;
  return options;
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  return result;
}

/** node-llama-cpp's production dependency folders (relative), as `npm list` (and vsce) see them. */
function productionDependencies() {
  const result = spawnSync('npm', ['list', '--production', '--parseable', '--depth=99999', '--loglevel=error'], {
    cwd: root,
    encoding: 'utf8',
  });
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith(root + '/node_modules/'))
    .map((line) => relative(root, line));
}

function matchesTarget(pkg, target) {
  const spec = targets[target];
  // npm's rule: a plain list names what is allowed; a list of `!x` names what is not.
  const allows = (list, value) => {
    if (!Array.isArray(list) || list.length === 0) return true;
    if (list.includes(`!${value}`)) return false;
    return list.includes(value) || list.every((v) => v.startsWith('!'));
  };
  return allows(pkg.os, spec.os) && allows(pkg.cpu, spec.cpu);
}

/**
 * What to package: the dependency folders to stage (node-llama-cpp and its dependencies less other
 * platforms' binaries and the optional TypeScript peer) and the `!` lines that ship their files.
 */
function planDependencies(options) {
  const spec = targets[options.target];
  const binaries = new Set([
    ...(options.gpu === 'cpu' ? spec.binaries.slice(0, 1) : spec.binaries),
    ...(options.cudaFallback && options.gpu === 'all' ? spec.fallback : []),
  ]);
  const allow = [];
  const stage = [];
  const shipped = [];
  for (const dir of productionDependencies()) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    const binary = pkg.name.startsWith('@node-llama-cpp/');
    if (binary ? !binaries.has(pkg.name.slice('@node-llama-cpp/'.length)) : !matchesTarget(pkg, options.target)) continue;
    if (pkg.name === 'typescript') continue; // an optional peer, only for node-llama-cpp's CLI
    if (!stage.some((parent) => dir.startsWith(`${parent}/`))) stage.push(dir);
    // node-llama-cpp's own files are named one by one in .vscodeignore.
    if (pkg.name === 'node-llama-cpp' || buildOnlyDependencies.has(pkg.name)) continue;
    allow.push(`!${dir}/**/${shippedFiles}`);
    shipped.push(pkg.name);
  }
  const missing = [...binaries].filter((b) => !shipped.includes(`@node-llama-cpp/${b}`));
  if (missing.length > 0) {
    throw new Error(
      `node_modules lacks @node-llama-cpp/${missing.join(', @node-llama-cpp/')} for ${options.target}; install them (npm install --force --no-save) or package on that platform.`,
    );
  }
  return { allow, stage };
}

/**
 * Runs esbuild.js --production in a scratch folder that links to the sources, so its dist/ holds
 * only production bundles: the repository's dist/ is shared with development builds (the e2e
 * host suite, watchers) that could otherwise land in the VSIX or be clobbered by it.
 */
function buildProduction() {
  const dir = mkdtempSync(join(root, '.tmp', 'package-build-'));
  for (const name of ['src', 'media', 'test', 'node_modules', 'package.json', 'tsconfig.json']) {
    if (existsSync(join(root, name))) symlinkSync(join(root, name), join(dir, name));
  }
  run(process.execPath, [join(root, 'esbuild.js'), '--production'], { cwd: dir });
  return dir;
}

/** Copies a tree as hard links (copies across file systems): staging costs no disk or time. */
function linkTree(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

/**
 * A folder holding only what may ship: vsce globs its whole working folder before applying
 * .vscodeignore, and this repository's caches (code-server, llama.cpp builds) make that minutes.
 */
function stageExtension(plan, ignoreText, distDir) {
  const stage = mkdtempSync(join(root, '.tmp', 'package-stage-'));
  for (const name of ['package.json', 'README.md', 'LICENSE']) copyFileSync(join(root, name), join(stage, name));
  linkTree(distDir, join(stage, 'dist'));
  if (existsSync(join(root, 'media'))) linkTree(join(root, 'media'), join(stage, 'media'));
  for (const dir of plan.stage) linkTree(join(root, dir), join(stage, dir));
  writeFileSync(join(stage, '.vscodeignore'), ignoreText);
  return stage;
}

function readEntries(vsix) {
  const yauzl = require('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(vsix, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const entries = [];
      zip.on('entry', (e) => {
        entries.push({ name: e.fileName, size: e.uncompressedSize, compressed: e.compressedSize });
        zip.readEntry();
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function summarize(entries) {
  const groups = new Map();
  for (const e of entries) {
    const path = e.name.replace(/^extension\//, '');
    const parts = path.split('/');
    let group = parts[0];
    if (parts[0] === 'node_modules') {
      if (parts[1] === 'node-llama-cpp' || parts[1] === '@node-llama-cpp')
        group = parts[1] === 'node-llama-cpp' ? 'node_modules/node-llama-cpp' : `node_modules/@node-llama-cpp/${parts[2]}`;
      else group = 'node_modules (node-llama-cpp dependencies)';
    } else if (parts.length === 1) group = '(top level)';
    const g = groups.get(group) ?? { files: 0, size: 0, compressed: 0 };
    g.files++;
    g.size += e.size;
    g.compressed += e.compressed;
    groups.set(group, g);
  }
  return [...groups.entries()].sort((a, b) => b[1].compressed - a[1].compressed);
}

async function unzipTo(vsix, dir) {
  const yauzl = require('yauzl');
  const { createWriteStream } = await import('node:fs');
  await new Promise((resolve, reject) => {
    yauzl.open(vsix, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('entry', (entry) => {
        if (!entry.fileName.startsWith('extension/') || entry.fileName.endsWith('/')) return zip.readEntry();
        const target = join(dir, entry.fileName);
        mkdirSync(dirname(target), { recursive: true });
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          stream
            .pipe(createWriteStream(target))
            .on('finish', () => zip.readEntry())
            .on('error', reject);
        });
      });
      zip.on('end', resolve);
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Loads node-llama-cpp the way the bundle does (a dynamic import from dist/) in the unzipped VSIX. */
async function verifyNodeLlamaCpp(vsix, gpu) {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-vsix-'));
  try {
    await unzipTo(vsix, dir);
    const probe = join(dir, 'extension', 'dist', 'probe-node-llama-cpp.mjs');
    writeFileSync(
      probe,
      `const started = Date.now();
const { getLlama } = await import('node-llama-cpp');
const llama = await getLlama({ gpu: ${JSON.stringify(gpu)}, build: 'never', logLevel: 'error' });
const devices = await llama.getGpuDeviceNames().catch(() => []);
console.log(JSON.stringify({ gpu: llama.gpu, cpuMathCores: llama.cpuMathCores, devices, loadMs: Date.now() - started }));
await llama.dispose();
`,
    );
    // An empty NODE_PATH and cwd in the temp dir: only the VSIX's own node_modules can resolve it.
    const result = spawnSync(process.execPath, [probe], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: '' },
      timeout: 300_000,
    });
    if (result.status !== 0) throw new Error(`the packaged node-llama-cpp did not load:\n${result.stdout}\n${result.stderr}`);
    return JSON.parse(result.stdout.trim().split('\n').pop());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function packageExtension(options) {
  const started = Date.now();
  if (options.ifStale && !vsixIsStale(resolve(root, options.out))) {
    console.log(`${options.out} is up to date`);
    return resolve(root, options.out);
  }
  mkdirSync(join(root, '.tmp'), { recursive: true });
  const build = options.build ? buildProduction() : null;
  const plan = planDependencies(options);
  const stage = stageExtension(
    plan,
    `${readFileSync(join(root, '.vscodeignore'), 'utf8')}\n# Added by scripts/package.mjs for ${options.target} (gpu: ${options.gpu})\n${plan.allow.join('\n')}\n`,
    build ? join(build, 'dist') : join(root, 'dist'),
  );
  if (build) rmSync(build, { recursive: true, force: true });
  const out = resolve(root, options.out);
  rmSync(out, { force: true });
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  try {
    run(
      process.execPath,
      [vsce, 'package', '--target', options.target, '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out],
      {
        cwd: stage,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  const entries = await readEntries(out);
  console.log(
    `\n${relative(root, out) || out}: ${mib(statSync(out).size)} (${entries.length} files, ${mib(entries.reduce((s, e) => s + e.size, 0))} unpacked) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  for (const [group, g] of summarize(entries)) {
    console.log(
      `  ${group.padEnd(48)} ${String(g.files).padStart(5)} files ${mib(g.size).padStart(11)} → ${mib(g.compressed).padStart(11)}`,
    );
  }
  const forbidden = entries.filter((e) =>
    /\.map$|gitRelease\.bundle$|^extension\/(test|src|out|scripts)\/|^extension\/media\/.*\.ts$/.test(e.name),
  );
  if (forbidden.length > 0)
    throw new Error(
      `the VSIX contains files that must not ship: ${forbidden
        .slice(0, 10)
        .map((e) => e.name)
        .join(', ')}`,
    );
  if (options.verify && targets[options.target].os === process.platform && targets[options.target].cpu === process.arch) {
    const probe = await verifyNodeLlamaCpp(out, false);
    console.log(
      `  verified: the packaged node-llama-cpp loads its CPU binary (gpu: ${probe.gpu}, ${probe.cpuMathCores} math cores, ${probe.loadMs} ms)`,
    );
    if (options.verifyGpu) {
      const auto = await verifyNodeLlamaCpp(out, 'auto');
      console.log(
        `  verified: gpu "auto" picks ${auto.gpu || 'the CPU'} (${auto.devices.join(', ') || 'no GPU device'}, ${auto.loadMs} ms)`,
      );
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await packageExtension(parseArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`[package] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
}
