// Where a speculative round's time goes (issue 14 item 1), on the bench target (16 × 768) and a
// 1 × 64 draft: interleaved repetitions of each primitive on the same cached prompt, medians in ms.
//   node --import tsx test/bench/speculativeProfile.ts [threads] [target.gguf draft.gguf]
// (default: the sweep's Q8_0 target and its 100 % draft); PROFILE_BINARY=prebuilt skips a local build
import { loadNodeLlamaCpp } from '../../src/engine/modelFiles';
import { fimPrompt, repetitiveCode } from '../engine/helpers';
import { ensureSpeculativeBenchFixtures } from '../fixtures/generate';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const threads = Number(process.argv[2] ?? 1);
  const fixtures = await ensureSpeculativeBenchFixtures();
  const nlc = await loadNodeLlamaCpp();
  const llama = await nlc.getLlama({
    gpu: false,
    build: 'never',
    maxThreads: threads,
    // PROFILE_BINARY=prebuilt skips a local build (a local build is found by its folder name, which includes custom CMake options)
    cmakeOptions: process.env.PROFILE_BINARY === 'prebuilt' ? { ENCLAVE_PROFILE_PREBUILT: '1' } : undefined,
  });
  const model = await llama.loadModel({ modelPath: process.argv[3] ?? fixtures.target });
  const draftModel = await llama.loadModel({ modelPath: process.argv[4] ?? fixtures.drafts[1] });
  const context = await model.createContext({ sequences: 1, contextSize: 2048, batchSize: 512, threads });
  const draftContext = await draftModel.createContext({ sequences: 1, contextSize: 2048, batchSize: 512, threads });
  const draftContextNow = await draftModel.createContext({
    sequences: 1,
    contextSize: 2048,
    batchSize: 512,
    threads,
    batching: { dispatchSchedule: (dispatch) => dispatch() },
  });
  const seq = context.getSequence();
  const dseq = draftContext.getSequence();
  const dseqNow = draftContextNow.getSequence();
  const prompt = model.tokenize(
    fimPrompt(repetitiveCode(4) + '\nexport function handle4(request: Request) {\n  const body = ', '\n}\n'),
    true,
  );
  await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  await dseq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  await dseqNow.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  const base = seq.nextTokenIndex;
  const last = prompt[prompt.length - 1];
  // The greedy chain from the prompt, to feed realistic drafts.
  const chain: number[] = [];
  {
    const it = seq.evaluate([last], { temperature: 0 });
    for (let i = 0; i < 20; i++) {
      const r = await it.next();
      chain.push(r.value as number);
    }
    await it.return(undefined);
    await seq.eraseContextTokenRanges([{ start: base, end: seq.nextTokenIndex }]);
  }
  const reset = async (s: typeof seq, at: number) => {
    if (s.nextTokenIndex > at) await s.eraseContextTokenRanges([{ start: at, end: s.nextTokenIndex }]);
  };
  const tokens = (n: number) => [last, ...chain.slice(0, n - 1)] as never[];
  const greedy = { generateNext: { token: true } } as const;
  const cases: Record<string, () => Promise<void>> = {};
  const stepper = seq.evaluate([last], { temperature: 0, yieldEogToken: true });
  await stepper.next();
  await reset(seq, base);
  cases['step (kept generator)'] = async () => {
    await stepper.next([last] as never);
  };
  for (const n of [1, 2, 4, 8, 16]) {
    cases[`controlled n=${n} all token`] = async () => {
      await seq.controlledEvaluate(tokens(n).map((t) => [t, greedy]));
    };
    cases[`controlled n=${n} last token`] = async () => {
      const ts = tokens(n);
      await seq.controlledEvaluate([...ts.slice(0, -1), [ts[n - 1], greedy]]);
    };
    cases[`no logits n=${n}`] = async () => {
      await seq.evaluateWithoutGeneratingNewTokens(tokens(n));
    };
  }
  const draftStepper = dseq.evaluate([last], { temperature: 0, yieldEogToken: true });
  await draftStepper.next();
  const dbase = base;
  await reset(dseq, dbase);
  cases['draft step'] = async () => {
    await draftStepper.next([last] as never);
  };
  const draftStepperNow = dseqNow.evaluate([last], { temperature: 0, yieldEogToken: true });
  await draftStepperNow.next();
  await reset(dseqNow, dbase);
  cases['draft step, immediate dispatch'] = async () => {
    await draftStepperNow.next([last] as never);
  };
  cases['draft 8 steps'] = async () => {
    for (let i = 0; i < 8; i++) await draftStepper.next([chain[i]] as never);
  };
  cases['draft 8 steps, immediate dispatch'] = async () => {
    for (let i = 0; i < 8; i++) await draftStepperNow.next([chain[i]] as never);
  };
  cases['erase 8'] = async () => {
    await seq.evaluateWithoutGeneratingNewTokens(tokens(8));
  };
  const times: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let rep = 0; rep < 9; rep++) {
    for (const [name, run] of Object.entries(cases)) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await run();
      const c = process.cpuUsage(c0);
      (times[name] ??= []).push(performance.now() - t0);
      (cpu[name] ??= []).push((c.user + c.system) / 1000);
      const e0 = performance.now();
      await reset(seq, base);
      await reset(dseq, dbase);
      await reset(dseqNow, dbase);
      if (name === 'erase 8') times[name][times[name].length - 1] = performance.now() - e0;
    }
  }
  for (const [name, xs] of Object.entries(times)) console.log(name.padEnd(36), median(xs).toFixed(2), median(cpu[name]).toFixed(2));
  await stepper.return(undefined);
  await draftStepper.return(undefined);
  process.exit(0);
}

void main();
