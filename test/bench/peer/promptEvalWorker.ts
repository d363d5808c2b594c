// Child process of the prompt-evaluation experiment (promptEval.ts): one node-llama-cpp binary
// (the prebuilt one, or a build for this machine when there is one), one loaded model; on request
// it creates a context with the candidate's options and evaluates the same tokens cold, as
// syncPrefix + the first greedy step do in the engine (fimDecoding.ts), several times.
//   argv: <modelPath> <binary: prebuilt|local> <useMmap: 0|1>
import { readFileSync } from 'node:fs';

import type { Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

export interface EvalCandidate {
  batchSize: number;
  threads: number;
  flashAttention: boolean | 'auto';
  sequences: number;
  contextSize: number;
  kvType?: 'F16' | 'Q8_0' | 'F32';
}

export type EvalRequest = { candidate: EvalCandidate; tokens: number[]; reps: number } | { tokenize: string };

export interface EvalAnswer {
  /** Per rep: the whole batchSize chunks before the last one, then the last chunk with the first token. */
  promptMs: number[];
  firstTokenMs: number[];
  error?: string;
}

export interface WorkerHello {
  buildType: string;
  cpuLibraries: string[];
}

async function main(): Promise<void> {
  const [modelPath, binary, mmap] = process.argv.slice(2);
  const nlc = await import('node-llama-cpp');
  const llama = await nlc.getLlama({
    gpu: false,
    build: 'never',
    maxThreads: 2,
    // A local build is found by its folder name, which includes custom CMake options: naming one
    // nobody built makes node-llama-cpp skip the local build and load the prebuilt binaries.
    cmakeOptions: binary === 'prebuilt' ? { ENCLAVE_PROMPT_EVAL_PREBUILT: '1' } : undefined,
    logLevel: nlc.LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: mmap === '1' });
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const hello: WorkerHello = {
    buildType: llama.buildType,
    cpuLibraries: [...new Set([...maps.matchAll(/\S*libggml-cpu[\w-]*\.so/g)].map((m) => m[0]))],
  };
  process.send!({ hello });
  process.on('message', (raw: EvalRequest) => {
    void (async () => {
      if ('tokenize' in raw) {
        process.send!({ tokens: model.tokenize(raw.tokenize, true) });
        return;
      }
      const { candidate: c, tokens, reps } = raw;
      const answer: EvalAnswer = { promptMs: [], firstTokenMs: [] };
      try {
        const context = await model.createContext({
          contextSize: c.contextSize,
          sequences: c.sequences,
          batchSize: c.batchSize,
          threads: c.threads,
          flashAttention: c.flashAttention,
          experimentalKvCacheKeyType: c.kvType,
          experimentalKvCacheValueType: c.kvType,
        });
        try {
          const seq = context.getSequence();
          const prompt = tokens as Token[];
          // As syncPrefix does: whole batches, then the last batch with the first token predicted.
          const last = prompt.length - (((prompt.length - 1) % c.batchSize) + 1);
          for (let r = 0; r < reps; r++) {
            await seq.clearHistory();
            const t0 = performance.now();
            for (let start = 0; start < last; start += c.batchSize)
              await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(start, Math.min(start + c.batchSize, last)));
            const t1 = performance.now();
            const it = seq.evaluate(prompt.slice(last), { temperature: 0 });
            await it.next();
            await it.return();
            answer.promptMs.push(t1 - t0);
            answer.firstTokenMs.push(performance.now() - t1);
          }
        } finally {
          await context.dispose();
        }
      } catch (err) {
        answer.error = String(err);
      }
      process.send!({ answer });
    })();
  });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
