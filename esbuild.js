// Builds Enclave's bundles: the extension host entry, the engine process entry, the index worker, the CLI
// (`enclave serve`), the chat and metrics webview scripts and the in-host test suite.
// node-llama-cpp (native, ESM with top-level await) and vscode stay external.
const esbuild = require('esbuild');
const path = require('node:path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode', 'node-llama-cpp'],
  minify: production,
  sourcemap: !production,
  logLevel: 'warning',
};

/** @type {import('esbuild').BuildOptions[]} */
const builds = [
  { ...node, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { worker: 'src/engine/worker.ts' }, outdir: 'dist' },
  // The codebase index's worker thread, started by the extension host from dist/indexWorker.js.
  { ...node, entryPoints: { indexWorker: 'src/codebase/index/worker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/engine/cli.ts' }, outdir: 'dist' },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    // The metrics page imports uPlot's stylesheet and its own: esbuild writes dist/webview/metrics.css.
    entryPoints: { chat: 'media/chat/main.ts', metrics: 'media/metrics/main.ts' },
    outdir: 'dist/webview',
    minify: production,
    sourcemap: production ? false : 'inline',
    logLevel: 'warning',
  },
];
if (!production) {
  // The mocha suite that runs inside the real extension host (test/e2e/host).
  builds.push({
    ...node,
    entryPoints: { index: 'test/e2e/host/index.ts' },
    outdir: 'out/test',
    external: ['vscode', 'node-llama-cpp', 'mocha'],
  });
}

/**
 * Tree-sitter's WebAssembly runtime and the grammars src/codebase/index/grammars.json names, copied
 * from @vscode/tree-sitter-wasm to dist/tree-sitter/, where the index worker loads them
 * (src/codebase/index/treeSitter.ts). Without the package a development build goes on (the index
 * chunks by lines); a production build, the one that is packaged, stops.
 */
function copyTreeSitter() {
  const fs = require('node:fs');
  let wasmDir;
  try {
    wasmDir = path.join(path.dirname(require.resolve('@vscode/tree-sitter-wasm/package.json')), 'wasm');
  } catch {
    const message = '@vscode/tree-sitter-wasm is not installed: the codebase index would chunk every file by lines';
    if (production) throw new Error(message);
    console.warn(`esbuild: ${message}`);
    return;
  }
  const target = path.resolve('dist', 'tree-sitter');
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  const languages = Object.keys(JSON.parse(fs.readFileSync(path.resolve('src', 'codebase', 'index', 'grammars.json'), 'utf8')));
  for (const file of ['tree-sitter.js', 'tree-sitter.wasm', ...languages.map((language) => `tree-sitter-${language}.wasm`)])
    fs.copyFileSync(path.join(wasmDir, file), path.join(target, file));
  fs.copyFileSync(path.join(wasmDir, '..', 'LICENSE'), path.join(target, 'LICENSE'));
}

async function main() {
  const existing = builds.filter((b) => Object.values(b.entryPoints).every((p) => require('node:fs').existsSync(path.join(__dirname, p))));
  if (watch) {
    copyTreeSitter();
    for (const b of existing) await (await esbuild.context(b)).watch();
    return;
  }
  const started = Date.now();
  await Promise.all(existing.map((b) => esbuild.build(b)));
  copyTreeSitter();
  console.log(`esbuild: ${existing.length} bundles (${production ? 'production' : 'development'}) in ${Date.now() - started} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
