// Loaded with `node --import` (through NODE_OPTIONS, so the engine processes the tests fork get it
// too) by scripts/cpu-variants.mjs: node-llama-cpp finds its linux-x64 binaries by importing
// `@node-llama-cpp/linux-x64`; this resolves that import to a copy of the package whose bins folder
// holds a single libggml-cpu-<variant>.so, so ggml can load only that CPU variant.
// At exit, each process appends the CPU variant it really had mapped (from /proc/self/maps) to
// ENCLAVE_CPU_VARIANT_LOG — the proof of which kernels ran.
import { appendFileSync, readFileSync } from 'node:fs';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const packageDir = process.env.ENCLAVE_CPU_VARIANT_PACKAGE;
if (packageDir) {
  const target = pathToFileURL(`${packageDir}/dist/index.js`).href;
  const hooks = `
    export async function resolve(specifier, context, next) {
      if (specifier === '@node-llama-cpp/linux-x64') return { url: ${JSON.stringify(target)}, format: 'module', shortCircuit: true };
      return next(specifier, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

const log = process.env.ENCLAVE_CPU_VARIANT_LOG;
if (log) {
  process.on('exit', () => {
    let maps;
    try {
      maps = readFileSync('/proc/self/maps', 'utf8');
    } catch {
      return;
    }
    const loaded = [...new Set([...maps.matchAll(/\S*libggml-cpu-([\w-]+)\.so/g)].map((m) => m[0]))];
    if (loaded.length) appendFileSync(log, `${process.pid} ${loaded.join(' ')}\n`);
  });
}
