// npm run eval:next-edit -- <git repo> [--model file.gguf] [--max-cases N] [--max-commits N]
//                                      [--format auto|zeta|instinct|sweep|instruct] [--out file.json]
//                                      [--max-tokens N] [--threads N]
// Turns the repository's recent history into next-edit cases (nextEditEval.ts), runs the predictor
// on each through the engine runtime (in-process, the model from --model or ENCLAVE_MODEL), and
// prints and writes the scores: exact-lines match, delta-chrF, the share of predictions the user
// would have had to undo, latency.
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

import { EngineRuntime } from '../../src/engine/runtime';
import { NEXT_EDIT_FORMATS, type NextEditFormatSetting } from '../../src/nextEdit/formats';
import { createNextEditPredictor } from '../../src/nextEdit/predictor';
import type { PlainEdit } from '../../src/nextEdit/types';
import { casesFromRepo, score, summarize, type CaseScore } from './nextEditEval';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run eval:next-edit -- <git repo> [--model file.gguf] [--max-cases N] [--max-commits N] [--format F] [--out file]`,
  );
  process.exit(2);
}

/** Applies document edits (zero-based lines / UTF-16 characters, '\n' text) to a text. */
function applyEdits(text: string, edits: PlainEdit[]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  const offset = (p: { line: number; character: number }) => starts[p.line] + p.character;
  let out = text;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
    out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  }
  return out;
}

async function main() {
  const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  const repo = positional[0] ? resolve(positional[0]) : usage('Name a git repository.');
  const model = option('model') ?? process.env.ENCLAVE_MODEL ?? usage('Name a model: --model file.gguf or ENCLAVE_MODEL.');
  const maxCases = Number(option('max-cases') ?? 50);
  const format = (option('format') ?? 'auto') as NextEditFormatSetting;
  if (!NEXT_EDIT_FORMATS.includes(format)) usage(`--format must be one of ${NEXT_EDIT_FORMATS.join(', ')}.`);
  const out = resolve(option('out') ?? join('test', 'eval', 'results', `next-edit-${basename(repo)}.json`));

  const cases = await casesFromRepo(repo, { maxCases, maxCommits: Number(option('max-commits') ?? 300) });
  if (cases.length === 0) usage(`No cases in ${repo}: it needs commits that change code files in several places.`);
  console.log(`${cases.length} cases from ${repo}; model ${model}`);

  const runtime = await EngineRuntime.load({
    modelPath: model,
    speculative: 'lookup',
    contextSize: 8192,
    sequences: 4,
    threads: Number(option('threads') ?? 0),
    batchSize: 512,
    gpu: 'auto',
    adapters: [],
  });
  const scores: CaseScore[] = [];
  let formatUsed = '';
  try {
    for (const c of cases) {
      let latencyMs = 0;
      const predictor = createNextEditPredictor(() => runtime, {
        format,
        maxTimeMs: 30_000,
        maxTokens: option('max-tokens') ? Number(option('max-tokens')) : undefined,
        pathOf: () => c.path,
        onRequest: (r) => {
          latencyMs = r.stats.totalMs;
          formatUsed = r.format;
        },
      });
      const uri = `file:///repo/${c.path}`;
      c.steps.forEach((text, i) => predictor.recordChange({ uri, languageId: 'plaintext', version: i + 1, changes: [], textAfter: text }));
      const current = c.steps[c.steps.length - 1];
      const suggestion = await predictor.predict(
        { uri, languageId: c.path.split('.').pop() ?? '', version: c.steps.length, text: current, cursor: c.cursor },
        new AbortController().signal,
      );
      predictor.dispose();
      const predicted = suggestion ? applyEdits(current, suggestion.edits) : undefined;
      const s = score(c.id, current, c.expected, predicted, latencyMs);
      scores.push(s);
      console.log(`${s.exact ? '✓' : s.suggested ? '·' : ' '} ${c.id}  chrF ${s.deltaChrF.toFixed(1)}  ${latencyMs.toFixed(0)} ms`);
    }
  } finally {
    await runtime.dispose();
  }
  const summary = summarize(scores);
  console.table([
    {
      cases: summary.cases,
      suggestions: summary.suggestions,
      'exact-lines %': (100 * summary.exactLinesMatch).toFixed(1),
      'delta-chrF': summary.deltaChrF.toFixed(1),
      'would-undo %': (100 * summary.wouldUndoShare).toFixed(1),
      'latency p50 ms': summary.latencyMsP50.toFixed(0),
    },
  ]);
  await mkdir(dirname(out), { recursive: true });
  const doc = {
    date: new Date().toISOString(),
    repo: basename(repo),
    model: basename(model),
    format: formatUsed,
    machine: os.cpus()[0]?.model,
    summary,
    scores,
  };
  await writeFile(out, JSON.stringify(doc, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
