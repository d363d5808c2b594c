// Speculative decoding sweep (issue 14): the wide-margin target (16 × 768, Q8_0) with drafts
// (1 × 64) that agree with it on 100 / 90 / 75 / 50 / 0 % of tokens. Per agreement level, for FIM
// (16 / 64 / 128 tokens) and greedy chat (256): acceptance, verify rounds per request, tokens/s plain
// and speculative (paired runs on the same cached prompt, so load drift cancels out), the speed-up
// (median and quartiles over the pairs), how much plain runs alone vary between neighbouring pairs
// (the noise the speed-up is read against), and whether the outputs are identical; plus prompt
// lookup on a prompt whose continuation occurs in it (`lookup`).
// Part of engine.bench.ts (`speculative.sweep`); alone:
//   node --import tsx test/bench/speculativeSweep.ts [--quick] → test/bench/results/speculative-sweep.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ChatMessage, EngineSettings, GenerationResult } from '../../src/engine/protocol';
import { EngineRuntime } from '../../src/engine/runtime';
import { fimPrompt, repetitiveCode, repoRoot } from '../engine/helpers';
import { ensureSpeculativeBenchFixtures, SPECULATIVE_AGREEMENTS } from '../fixtures/generate';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * q;
  return s[Math.floor(at)] + (s[Math.ceil(at)] - s[Math.floor(at)]) * (at - Math.floor(at));
};
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface SweepOptions {
  quick?: boolean;
  threads?: number;
  /** Generation lengths measured on the FIM path. */
  fimTokens?: number[];
  agreements?: readonly number[];
  /** Generation length measured on the chat path. */
  chatTokens?: number;
}

export async function speculativeSweep(options: SweepOptions = {}): Promise<Record<string, unknown>> {
  const fixtures = await ensureSpeculativeBenchFixtures();
  const repeats = options.quick ? 1 : 9;
  const fimTokens = options.fimTokens ?? [16, 64, 128];
  const prompt = fimPrompt(
    repetitiveCode(4) + '\nexport function handle4(request: Request, response: Response): void {\n  const body = ',
    '\n}\n',
  );
  const levels: Record<string, unknown> = {};
  const lookup: Record<string, unknown> = {};
  const chatTokens = options.chatTokens ?? 256;
  const chatMessages: ChatMessage[] = [
    { role: 'system', content: 'You answer questions about code.' },
    { role: 'user', content: 'Explain this code:\n' + repetitiveCode(2) },
  ];
  for (const agreement of options.agreements ?? SPECULATIVE_AGREEMENTS) {
    const settings: EngineSettings = {
      modelPath: fixtures.target,
      draftModelPath: fixtures.drafts[agreement as keyof typeof fixtures.drafts],
      speculative: 'draft',
      contextSize: 2048,
      sequences: 2,
      threads: options.threads ?? 1,
      batchSize: 512,
      gpu: 'cpu',
      adapters: [],
    };
    const runtime = await EngineRuntime.load(settings);
    const perLength: Record<string, unknown> = {};
    try {
      for (const maxTokens of fimTokens) {
        // Each length on a document of its own: its first pair is where the draft policy learns
        // the document (reported as firstPairSpeedUp), the median is over the pairs after it.
        perLength[`fim${maxTokens}`] = await pairs(repeats, async (specFirst) => {
          const request = { documentKey: `sweep-fim${maxTokens}`, prompt, maxTokens };
          await runtime.completeFim({ ...request, maxTokens: 1, speculative: 'off' }); // the prompt is cached
          return inOrder(
            specFirst,
            () => runtime.completeFim({ ...request, speculative: 'off' }),
            () => runtime.completeFim({ ...request, speculative: 'draft' }),
          );
        });
      }
      perLength[`chat${chatTokens}`] = await pairs(repeats, async (specFirst) => {
        const request = { messages: chatMessages, maxTokens: chatTokens };
        await runtime.chat({ ...request, maxTokens: 1, speculative: 'off' }); // the conversation is cached
        return inOrder(
          specFirst,
          () => runtime.chat({ ...request, speculative: 'off' }),
          () => runtime.chat({ ...request, speculative: 'draft' }),
        );
      });
      // Prompt lookup (no draft model): a prompt whose continuation occurs in it, as when the code
      // being typed exists nearby — the FIM prompt, its greedy answer, then the same prompt again.
      if (agreement === (options.agreements ?? SPECULATIVE_AGREEMENTS)[0]) {
        for (const maxTokens of [64, 128]) {
          const first = await runtime.completeFim({ documentKey: 'lookup-seed', prompt, maxTokens, speculative: 'off' });
          const echo = prompt + first.text + '<|file_sep|>' + prompt;
          lookup[`fim${maxTokens}`] = await pairs(repeats, async (specFirst) => {
            const request = { documentKey: 'lookup', prompt: echo, maxTokens };
            await runtime.completeFim({ ...request, maxTokens: 1, speculative: 'off' });
            return inOrder(
              specFirst,
              () => runtime.completeFim({ ...request, speculative: 'off' }),
              () => runtime.completeFim({ ...request, speculative: 'lookup' }),
            );
          });
        }
      }
    } finally {
      await runtime.dispose();
    }
    levels[`agree${Math.round(agreement * 100)}`] = perLength;
  }
  levels.lookup = lookup;
  return levels;
}

/** A plain and a speculative run, in the order given (returned plain first). */
async function inOrder(
  specFirst: boolean,
  plain: () => Promise<GenerationResult>,
  spec: () => Promise<GenerationResult>,
): Promise<[GenerationResult, GenerationResult]> {
  if (!specFirst) {
    const p = await plain();
    return [p, await spec()];
  }
  const s = await spec();
  return [await plain(), s];
}

/**
 * Paired plain/speculative runs (which goes first alternates, so neither side always runs on
 * the heels of the other): acceptance, verify rounds, tokens/s and the per-pair speed-up (median
 * and quartiles) over `repeats` pairs after a first one (a document's first requests, while the
 * draft policy learns it and the draft sequence is brought up to the prompt: its speed-up is
 * reported apart); identity over all of them. `plainNoise` is the median change between the plain
 * runs of neighbouring pairs (identical work): a speed-up within it of a goal line is not a
 * measured difference.
 */
async function pairs(
  repeats: number,
  run: (specFirst: boolean) => Promise<[GenerationResult, GenerationResult]>,
): Promise<Record<string, unknown>> {
  const plainTps: number[] = [];
  const specTps: number[] = [];
  const ratios: number[] = [];
  let accepted = 0;
  let rejected = 0;
  let rounds = 0;
  let identical = true;
  let firstPairSpeedUp = NaN;
  for (let rep = -1; rep < repeats; rep++) {
    const [plain, spec] = await run(rep % 2 !== 0);
    identical &&= spec.text === plain.text && spec.stats.generatedTokens === plain.stats.generatedTokens;
    if (rep < 0) {
      firstPairSpeedUp = plain.stats.totalMs / spec.stats.totalMs;
      continue;
    }
    const tps = (r: GenerationResult) => (r.stats.generatedTokens * 1000) / r.stats.totalMs;
    plainTps.push(tps(plain));
    specTps.push(tps(spec));
    ratios.push(plain.stats.totalMs / spec.stats.totalMs);
    accepted += spec.stats.draft?.accepted ?? 0;
    rejected += spec.stats.draft?.rejected ?? 0;
    rounds += spec.stats.draft?.rounds ?? 0;
  }
  const plainChanges = plainTps.slice(1).map((tps, i) => Math.abs(tps / plainTps[i] - 1));
  return {
    acceptance: round(accepted / Math.max(1, accepted + rejected), 3),
    drafted: accepted + rejected,
    roundsPerRequest: round(rounds / Math.max(1, repeats), 1),
    plainTokensPerSecond: round(median(plainTps), 1),
    speculativeTokensPerSecond: round(median(specTps), 1),
    speedUp: round(median(ratios), 3),
    speedUpQuartiles: [round(quantile(ratios, 0.25), 3), round(quantile(ratios, 0.75), 3)],
    plainNoise: round(median(plainChanges), 3),
    firstPairSpeedUp: round(firstPairSpeedUp, 3),
    identical,
  };
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  void speculativeSweep({ quick }).then((sweep) => {
    const out = join(repoRoot, 'test/bench/results/speculative-sweep.json');
    mkdirSync(join(repoRoot, 'test/bench/results'), { recursive: true });
    writeFileSync(out, JSON.stringify({ quick, sweep }, null, 2) + '\n');
    console.log(JSON.stringify(sweep, null, 2));
  });
}
