// Runs the engine test layer once per llama.cpp CPU variant this CPU can execute.
// node-llama-cpp's linux-x64 package ships one libggml-cpu-<variant>.so per CPU family (x64, sse42,
// sandybridge, haswell, skylakex, icelake, zen4, …) and ggml loads the best one the CPU runs; each
// rounds differently. For each variant this makes a copy of the package whose bins folder holds
// only that variant (in .tmp/cpu-variants/), points node-llama-cpp at it (scripts/cpu-variant-hook.mjs,
// through NODE_OPTIONS so the forked engine processes follow), runs the tests, and prints the
// variant every process really had mapped.
//   node scripts/cpu-variants.mjs [--variants=x64,haswell|all|extra] [--files=runtime,client] [--list]
//     all (default): every variant this CPU can run, the default one included
//     extra: the baseline x64 and haswell (AVX2), unless one of them is the default (npm test)
//     --files: engine test files (substring filters); default: the whole layer
//     --identity: only the tests that compare generated outputs (speculative = plain, KV reuse =
//       cold, streamed = whole, Enclave = llama-server, the wide-margin chains)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const repoRoot = join(import.meta.dirname, '..');
const packageDir = join(repoRoot, 'node_modules', '@node-llama-cpp', 'linux-x64');
const binsDir = join(packageDir, 'bins', 'linux-x64');
const workDir = join(repoRoot, '.tmp', 'cpu-variants');
const hook = pathToFileURL(join(import.meta.dirname, 'cpu-variant-hook.mjs')).href;
const variantPattern = /^libggml-cpu-([\w-]+)\.so$/;

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value = 'true'] = arg.replace(/^--/, '').split('=');
    return [key, value];
  }),
);

if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(binsDir)) {
  console.log(`[cpu-variants] only for linux-x64 with ${binsDir}; nothing to do here`);
  process.exit(0);
}

const allVariants = readdirSync(binsDir)
  .flatMap((name) => variantPattern.exec(name)?.[1] ?? [])
  .sort();

/** A copy of the prebuilt package whose bins hold one CPU variant (or all, for `variant` null). */
function variantPackage(variant) {
  const dir = join(workDir, variant);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bins', 'linux-x64'), { recursive: true });
  cpSync(join(packageDir, 'package.json'), join(dir, 'package.json'));
  cpSync(join(packageDir, 'dist'), join(dir, 'dist'), { recursive: true });
  for (const name of readdirSync(binsDir)) {
    const match = variantPattern.exec(name);
    if (match && match[1] !== variant) continue;
    cpSync(join(binsDir, name), join(dir, 'bins', 'linux-x64', name));
  }
  return dir;
}

const identityTests = [
  'greedy output as plain decoding',
  'stays identical',
  'extends the previous prompt',
  'stop string',
  'starts the engine lazily',
  'same greedy text',
  'greedy equals the local',
  'sent as is',
  'follows their succ',
  'completes FIM prompts and streams chat',
].join('|');

function variantEnv(variant, log) {
  const env = { ...process.env, ENCLAVE_CPU_VARIANT_LOG: log };
  if (args.identity) env.ENCLAVE_TEST_NAME_PATTERN = identityTests;
  if (variant) env.ENCLAVE_CPU_VARIANT_PACKAGE = variantPackage(variant);
  env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${hook}`.trim();
  return env;
}

/** Which variants the processes of one run had mapped, from the hook's log. */
function variantsSeen(log) {
  if (!existsSync(log)) return [];
  const seen = new Set();
  for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    for (const path of line.split(' ').slice(1)) seen.add(variantPattern.exec(path.split('/').pop())?.[1] ?? path);
  }
  return [...seen].sort();
}

const probeScript = `
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: process.argv[2] });
  const context = await model.createContext({ contextSize: 64, threads: 1 });
  await context.getSequence().evaluateWithoutGeneratingNewTokens(model.tokenize('probe'));
  await llama.dispose();
`;

/** Loads a tiny model under one variant (null: node-llama-cpp's own choice); returns what ggml mapped. */
function probe(variant, modelPath) {
  const log = join(workDir, `probe-${variant ?? 'default'}.log`);
  rmSync(log, { force: true });
  // A file, not `node -e`: node-llama-cpp forks a test process that inherits execArgv.
  const script = join(workDir, 'probe.mjs');
  writeFileSync(script, probeScript);
  const run = spawnSync(process.execPath, [script, modelPath], {
    cwd: repoRoot,
    env: variantEnv(variant, log),
    encoding: 'utf8',
  });
  return { ok: run.status === 0, seen: variantsSeen(log), error: (run.stderr ?? '').trim().split('\n').slice(-1)[0] };
}

mkdirSync(workDir, { recursive: true });
const fixtures = spawnSync(process.execPath, ['scripts/setup.mjs', '--fixtures'], { cwd: repoRoot, stdio: 'inherit' });
if (fixtures.status !== 0) process.exit(fixtures.status ?? 1);
const probeModel = join(repoRoot, 'test', 'fixtures', '.cache', 'wide-draft.gguf');

const defaultProbe = probe(null, probeModel);
const defaultVariant = defaultProbe.seen[0];
console.log(`[cpu-variants] node-llama-cpp's own choice on this CPU: ${defaultVariant ?? `unknown (${defaultProbe.error})`}`);
const wanted = args.variants ?? 'all';
// Probing takes a few seconds per variant: only the ones this run may use.
const candidates = args.list || wanted === 'all' ? allVariants : wanted === 'extra' ? ['x64', 'haswell'] : wanted.split(',');
const runnable = [];
for (const variant of candidates) {
  if (!allVariants.includes(variant)) {
    console.log(`[cpu-variants]   ${variant.padEnd(16)} no such variant (${allVariants.join(', ')})`);
    continue;
  }
  const result = variant === defaultVariant ? defaultProbe : probe(variant, probeModel);
  const ok = result.ok && result.seen.length === 1 && result.seen[0] === variant;
  if (ok) runnable.push(variant);
  console.log(
    `[cpu-variants]   ${variant.padEnd(16)} ${ok ? 'runs here' : `not on this CPU (${result.error || `mapped: ${result.seen.join(', ') || 'none'}`})`}`,
  );
}
if (args.list) process.exit(0);

const variants = wanted === 'extra' ? runnable.filter((v) => v !== defaultVariant) : wanted === 'all' ? runnable : candidates;
const unknown = variants.filter((v) => !runnable.includes(v));
if (unknown.length) {
  console.error(`[cpu-variants] cannot run ${unknown.join(', ')} on this CPU; runnable: ${runnable.join(', ')}`);
  process.exit(2);
}
if (variants.length === 0) console.log('[cpu-variants] nothing to run: the default variant is the only one asked for');

const files = args.files ? args.files.split(',') : [''];
const results = [];
for (const variant of variants) {
  const log = join(workDir, `run-${variant}.log`);
  rmSync(log, { force: true });
  console.log(`\n[cpu-variants] engine layer on the ${variant} variant${args.files ? ` (files: ${files.join(', ')})` : ''}`);
  const started = performance.now();
  let status = 0;
  for (const filter of files) {
    const run = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'engine', filter], {
      cwd: repoRoot,
      env: variantEnv(variant, log),
      stdio: 'inherit',
    });
    if (run.status !== 0) status = run.status ?? 1;
  }
  const seen = variantsSeen(log);
  const proven = seen.length === 1 && seen[0] === variant;
  const seconds = (performance.now() - started) / 1000;
  results.push({
    variant,
    status: status === 0 && proven ? 'pass' : status !== 0 ? `fail (exit ${status})` : `ran ${seen.join(', ') || 'no variant'}`,
    seconds,
  });
  console.log(
    `[cpu-variants] ${variant}: every process had ${seen.join(', ') || 'no CPU variant'} mapped; tests ${status === 0 ? 'passed' : 'FAILED'} in ${seconds.toFixed(1)} s`,
  );
}

console.log('\n[cpu-variants] summary (default variant here: ' + (defaultVariant ?? 'unknown') + ')');
for (const r of results) console.log(`  ${r.variant.padEnd(16)} ${r.status.padEnd(14)} ${r.seconds.toFixed(1).padStart(7)} s`);
process.exit(results.every((r) => r.status === 'pass') ? 0 : 1);
