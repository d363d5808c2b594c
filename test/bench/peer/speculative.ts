// Speculative-decoding reference: llama-server decoding speculatively in llama.cpp's own way
// (-md DRAFT --draft-max 16 --draft-min 0) against Enclave's own draft-and-verify loop, both at
// temperature 0 on the same FIM prompts. At temperature 0 every speculative path must give exactly
// the plain greedy output; acceptance is compared as reported by each (server timings.draft_n /
// draft_n_accepted, Enclave stats.draft).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RequestStats } from '../../../src/engine/protocol';
import { EngineRuntime } from '../../../src/engine/runtime';
import { repoRoot, startLlamaServer, timedRequest } from './llamaServer';
import { sourceFiles } from './traces';

export interface SpeculativeOptions {
  binary: string;
  modelPath: string;
  draftPath: string;
  context: number;
  nPredict: number;
}

// A random-weights draft is never 75 % sure of anything: with llama.cpp's default floor it would
// draft nothing. 0 drafts like Enclave's loop does (no confidence gate).
const P_MIN = 0;

const fim = (prefix: string, suffix: string) => `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>`;

function prompts(): Array<{ name: string; prompt: string }> {
  const lru = readFileSync(join(repoRoot, 'node_modules/lru-cache/dist/commonjs/index.js'), 'utf8');
  const at = lru.indexOf('\n', 6000) + 1;
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) {
    lines.push(`export function handle${i}(request: Request, response: Response): void {`);
    lines.push(`  const body = parseBody(request.body, { strict: true, limit: ${i * 1024} });`);
    lines.push(`  response.status(200).json({ ok: true, id: ${i}, body });`);
    lines.push('}');
  }
  return [
    {
      name: 'ts-async',
      prompt: fim(
        'import { readFile } from "node:fs/promises";\n\nexport async function load(path: string) {\n  const text = await ',
        '\n}\n',
      ),
    },
    { name: 'py-fib', prompt: fim('def fibonacci(n):\n    if n < 2:\n        return n\n    return ', '\n') },
    { name: 'c-main', prompt: fim('#include <stdio.h>\n\nint main(void) {\n    printf(', '\n}\n') },
    {
      name: 'repetitive-ts',
      prompt: fim(lines.join('\n') + '\nexport function handle6(request: Request, response: Response): void {\n  const body = ', '\n}\n'),
    },
    { name: 'lru-cache.js', prompt: fim(lru.slice(at - 3000, at), lru.slice(at, at + 800)) },
    ...sourceFiles(repoRoot)
      .filter((f) => f.languageId !== 'javascript')
      .map((f) => {
        const text = readFileSync(f.path, 'utf8');
        const cut = text.indexOf('\n', (f.startAt.exec(text)?.index ?? 0) + 1) + 1;
        return { name: f.name, prompt: fim(text.slice(Math.max(0, cut - 2400), cut), text.slice(cut, cut + 600)) };
      }),
  ];
}

interface Run {
  /** null: the server generated it but answered HTTP 500 (output not valid UTF-8). */
  text: string | null;
  ms: number;
  draft?: { drafted: number; accepted: number };
  generated: number;
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

async function enclaveRuns(modelPath: string, draftPath: string, context: number, nPredict: number, list: ReturnType<typeof prompts>) {
  const runtime = await EngineRuntime.load({
    modelPath,
    draftModelPath: draftPath,
    speculative: 'draft',
    contextSize: context,
    sequences: 2,
    threads: 1,
    batchSize: 512,
    gpu: 'cpu',
    adapters: [],
  });
  const out: Record<string, { off: Run; draft: Run; lookup: Run }> = {};
  try {
    for (const [i, p] of list.entries()) {
      const run = async (mode: 'off' | 'draft' | 'lookup'): Promise<Run> => {
        const started = performance.now();
        // A new document key per request: no KV reuse between the modes.
        const r = await runtime.completeFim({
          documentKey: `spec-${i}-${mode}-${Math.random()}`,
          prompt: p.prompt,
          maxTokens: nPredict,
          stop: [],
          speculative: mode,
        });
        const st: RequestStats = r.stats;
        return {
          text: r.text,
          ms: performance.now() - started,
          generated: st.generatedTokens,
          draft: st.draft ? { drafted: st.draft.accepted + st.draft.rejected, accepted: st.draft.accepted } : undefined,
        };
      };
      out[p.name] = { off: await run('off'), draft: await run('draft'), lookup: await run('lookup') };
    }
  } finally {
    await runtime.dispose();
  }
  return out;
}

async function serverRuns(binary: string, o: SpeculativeOptions, draft: string | undefined, list: ReturnType<typeof prompts>) {
  const server = await startLlamaServer(binary, {
    model: o.modelPath,
    threads: 1,
    contextSize: o.context,
    batchSize: 2048,
    ubatchSize: 512,
    draft: draft ? { model: draft, max: 16, min: 0, pMin: P_MIN } : undefined,
    extraArgs: draft ? ['-td', '1', '-tbd', '1'] : [],
  });
  const out: Record<string, Run> = {};
  try {
    for (const p of list) {
      const r = await timedRequest(server, '/completion', {
        prompt: p.prompt,
        n_predict: o.nPredict,
        temperature: 0,
        top_k: 1,
        cache_prompt: false,
      });
      out[p.name] = {
        text: r.content,
        ms: r.ms,
        generated: r.predictedN,
        draft: r.draftN !== undefined ? { drafted: r.draftN, accepted: r.draftAccepted ?? 0 } : undefined,
      };
    }
  } finally {
    await server.stop();
  }
  return out;
}

export async function speculativeReference(o: SpeculativeOptions) {
  const list = prompts();
  console.log('speculative reference: llama-server plain / -md draft.gguf / -md model.gguf, Enclave off / draft / lookup / self-draft');
  const serverPlain = await serverRuns(o.binary, o, undefined, list);
  const serverDraft = await serverRuns(o.binary, o, o.draftPath, list);
  const serverSelf = await serverRuns(o.binary, o, o.modelPath, list);
  const enclave = await enclaveRuns(o.modelPath, o.draftPath, o.context, o.nPredict, list);
  const enclaveSelf = await enclaveRuns(o.modelPath, o.modelPath, o.context, o.nPredict, list);

  const perPrompt = list.map((p) => {
    const ref = serverPlain[p.name];
    const e = enclave[p.name];
    const es = enclaveSelf[p.name];
    const same = (a: Run, b: Run) => (a.text === null || b.text === null ? null : a.text === b.text);
    const cmp = (r: Run) => ({
      identicalToServerPlain: same(r, ref),
      identicalToEnclavePlain: same(r, e.off),
      commonPrefixChars: r.text !== null && ref.text !== null ? commonPrefixLength(r.text, ref.text) : null,
      chars: r.text?.length ?? null,
      generated: r.generated,
      ms: Math.round(r.ms),
      draft: r.draft,
      acceptance: r.draft && r.draft.drafted > 0 ? r.draft.accepted / r.draft.drafted : null,
    });
    return {
      prompt: p.name,
      referenceChars: ref.text?.length ?? null,
      serverPlain: cmp(ref),
      serverDraft: cmp(serverDraft[p.name]),
      serverSelfDraft: cmp(serverSelf[p.name]),
      enclavePlain: cmp(e.off),
      enclaveDraft: cmp(e.draft),
      enclaveLookup: cmp(e.lookup),
      enclaveSelfDraft: cmp(es.draft),
    };
  });
  const sides = [
    'serverPlain',
    'serverDraft',
    'serverSelfDraft',
    'enclavePlain',
    'enclaveDraft',
    'enclaveLookup',
    'enclaveSelfDraft',
  ] as const;
  const totals = Object.fromEntries(
    sides.map((s) => {
      const rows = perPrompt.map((p) => p[s]);
      const drafted = rows.reduce((n, r) => n + (r.draft?.drafted ?? 0), 0);
      const accepted = rows.reduce((n, r) => n + (r.draft?.accepted ?? 0), 0);
      const count = (key: 'identicalToServerPlain' | 'identicalToEnclavePlain') => {
        const known = rows.filter((r) => r[key] !== null);
        return `${known.filter((r) => r[key]).length}/${known.length}`;
      };
      return [
        s,
        {
          identicalToServerPlain: count('identicalToServerPlain'),
          identicalToEnclavePlain: count('identicalToEnclavePlain'),
          drafted,
          accepted,
          acceptance: drafted > 0 ? accepted / drafted : null,
          totalMs: rows.reduce((n, r) => n + r.ms, 0),
        },
      ];
    }),
  );
  for (const s of sides) console.log(`  ${s.padEnd(16)} ${JSON.stringify(totals[s])}`);
  return {
    method:
      `${list.length} FIM prompts, n_predict ${o.nPredict}, temperature 0 / top_k 1. Server: POST /completion, cache_prompt false, -t/-tb/-td/-tbd 1, ` +
      `speculative with -md <draft> --spec-draft-n-max 16 --spec-draft-n-min 0 --spec-draft-p-min ${P_MIN} (this llama.cpp's names for --draft-max/--draft-min; p-min 0 because a random-weights draft never reaches the default 0.75 confidence, and Enclave's loop has no confidence gate) (draft.gguf: 2 layers × 64; 'self': the target model as its own draft). ` +
      "Enclave: EngineRuntime in process (threads 1), completeFim with speculative 'off' | 'draft' | 'lookup', no stop strings, a fresh KV sequence per request. " +
      "'identical' is counted against llama-server without a draft and against Enclave without speculation, over the prompts where both answers are known (the server answers HTTP 500 when its output is not valid UTF-8). Acceptance = accepted / drafted tokens as each side reports it (server timings.draft_n_accepted / draft_n; Enclave stats.draft accepted / (accepted + rejected)).",
    totals,
    perPrompt,
  };
}
