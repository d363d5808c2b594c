// Fill-in-the-middle prompt formats, one per model family, detected from the model's special tokens.
// Every format here is prefix-suffix-middle except Codestral's (suffix first); in the PSM ones the
// text of the cursor's line before the cursor goes after the middle token (as llama-server's infill
// does), so typing along a line only appends to the prompt and the engine re-evaluates almost nothing.
import type { FimFamily } from '../engine/protocol';

export type { FimFamily } from '../engine/protocol';

/** A chunk of another file, shown to the model before the current file. */
export interface FileChunk {
  path: string;
  text: string;
}

export interface FimInput {
  /** Whole lines above the cursor's line (the window chosen by prompt.ts). */
  prefix: string;
  /** The cursor's line up to the cursor. */
  linePrefix: string;
  /** From the cursor to the end of the suffix window (the rest of the line included). */
  suffix: string;
  /** Other files, most stable first. */
  files: readonly FileChunk[];
  /** Path of the current file, relative to the workspace when there is one. */
  path: string;
  repoName: string;
  languageId: string;
}

export interface FimTemplate {
  readonly family: FimFamily;
  /** Special tokens of this family; they are removed from document text so it cannot forge them. */
  readonly specialTokens: readonly string[];
  /** Strings that end a completion (the engine also stops at end-of-generation tokens). */
  readonly stop: readonly string[];
  build(input: FimInput): string;
}

const lineComments: Record<string, string> = {
  python: '#',
  shellscript: '#',
  ruby: '#',
  perl: '#',
  r: '#',
  yaml: '#',
  toml: '#',
  dockerfile: '#',
  makefile: '#',
  powershell: '#',
  elixir: '#',
  julia: '#',
  coffeescript: '#',
  sql: '--',
  lua: '--',
  haskell: '--',
  elm: '--',
  ada: '--',
  erlang: '%',
  latex: '%',
  matlab: '%',
  clojure: ';',
  lisp: ';',
  scheme: ';',
  ini: ';',
  vb: "'",
};

/** The line-comment marker of a language (for families that have no file-separator tokens). */
export function lineComment(languageId: string): string {
  return lineComments[languageId] ?? '//';
}

function stripTokens(text: string, tokens: readonly string[]): string {
  let result = text;
  for (const token of tokens) if (result.includes(token)) result = result.split(token).join('');
  return result;
}

/** Other files as comment-headed blocks, for formats without repository tokens. */
function commentedFiles(input: FimInput, clean: (s: string) => string): string {
  const comment = lineComment(input.languageId);
  let out = '';
  for (const file of input.files) out += `${comment} ${file.path}\n${clean(file.text)}\n`;
  if (out) out += `${comment} ${input.path}\n`;
  return out;
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : text + '\n';
}

interface PsmSpec {
  family: FimFamily;
  prefix: string;
  suffix: string;
  middle: string;
  /** Tokens that appear only as separators and must also be removed from content. */
  extra: readonly string[];
  stop: readonly string[];
  header(input: FimInput, clean: (s: string) => string): string;
}

function psmTemplate(spec: PsmSpec): FimTemplate {
  const specialTokens = [spec.prefix.trim(), spec.suffix.trim(), spec.middle.trim(), ...spec.extra].filter(Boolean);
  const clean = (s: string) => stripTokens(s, specialTokens);
  return {
    family: spec.family,
    specialTokens,
    stop: spec.stop,
    build(input) {
      return (
        spec.header(input, clean) +
        spec.prefix +
        clean(input.prefix) +
        spec.suffix +
        clean(input.suffix) +
        spec.middle +
        clean(input.linePrefix)
      );
    },
  };
}

const qwenStop = [
  '<|endoftext|>',
  '<|fim_prefix|>',
  '<|fim_suffix|>',
  '<|fim_middle|>',
  '<|fim_pad|>',
  '<|repo_name|>',
  '<|file_sep|>',
  '<|im_start|>',
  '<|im_end|>',
];

const templates: Record<FimFamily, FimTemplate> = {
  // Qwen2.5-Coder repository-level format: <|repo_name|>, then <|file_sep|>path\ncontent per file.
  qwen: psmTemplate({
    family: 'qwen',
    prefix: '<|fim_prefix|>',
    suffix: '<|fim_suffix|>',
    middle: '<|fim_middle|>',
    extra: ['<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|endoftext|>', '<|im_start|>', '<|im_end|>'],
    stop: qwenStop,
    header(input, clean) {
      if (input.files.length === 0) return '';
      let out = `<|repo_name|>${clean(input.repoName)}\n`;
      for (const file of input.files) out += `<|file_sep|>${clean(file.path)}\n${ensureNewline(clean(file.text))}`;
      return out + `<|file_sep|>${clean(input.path)}\n`;
    },
  }),
  starcoder: psmTemplate({
    family: 'starcoder',
    prefix: '<fim_prefix>',
    suffix: '<fim_suffix>',
    middle: '<fim_middle>',
    extra: ['<fim_pad>', '<repo_name>', '<file_sep>', '<|endoftext|>'],
    stop: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<repo_name>'],
    header(input, clean) {
      if (input.files.length === 0) return '';
      let out = `<repo_name>${clean(input.repoName)}`;
      for (const file of input.files) out += `<file_sep>${clean(file.path)}\n${ensureNewline(clean(file.text))}`;
      return out + `<file_sep>${clean(input.path)}\n`;
    },
  }),
  deepseek: psmTemplate({
    family: 'deepseek',
    prefix: '<｜fim▁begin｜>',
    suffix: '<｜fim▁hole｜>',
    middle: '<｜fim▁end｜>',
    extra: ['<｜end▁of▁sentence｜>', '<｜begin▁of▁sentence｜>', '<|EOT|>'],
    stop: ['<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<|EOT|>'],
    header: () => '',
  }),
  // CodeLlama's infill tokens carry the spaces it was trained with: "<PRE> p <SUF>s <MID>".
  codellama: psmTemplate({
    family: 'codellama',
    prefix: '<PRE> ',
    suffix: ' <SUF>',
    middle: ' <MID>',
    extra: ['<EOT>'],
    stop: ['<EOT>', '<PRE>', '<SUF>', '<MID>'],
    header: () => '',
  }),
  codestral: (() => {
    const specialTokens = ['[SUFFIX]', '[PREFIX]', '[MIDDLE]', '</s>'];
    const clean = (s: string) => stripTokens(s, specialTokens);
    return {
      family: 'codestral' as const,
      specialTokens,
      stop: ['</s>', '[SUFFIX]', '[PREFIX]', '[MIDDLE]'],
      // Suffix first, so the cursor is naturally the end of the prompt.
      build(input: FimInput) {
        return `[SUFFIX]${clean(input.suffix)}[PREFIX]${commentedFiles(input, clean)}${clean(input.prefix)}${clean(input.linePrefix)}`;
      },
    };
  })(),
};

// DeepSeek and CodeLlama have no file-separator tokens: other files go into the prefix as comments.
for (const family of ['deepseek', 'codellama'] as const) {
  const base = templates[family];
  templates[family] = {
    ...base,
    build(input) {
      const clean = (s: string) => stripTokens(s, base.specialTokens);
      return base.build({ ...input, prefix: commentedFiles(input, clean) + input.prefix });
    },
  };
}

export function fimTemplate(family: FimFamily): FimTemplate {
  return templates[family];
}

/** Token texts that identify each family, most specific first. */
const signatures: ReadonlyArray<[FimFamily, readonly string[]]> = [
  ['qwen', ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>']],
  ['deepseek', ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>']],
  ['starcoder', ['<fim_prefix>', '<fim_suffix>', '<fim_middle>']],
  ['codestral', ['[SUFFIX]', '[PREFIX]', '[MIDDLE]']],
  ['codellama', ['▁<PRE>', '▁<SUF>', '▁<MID>']],
  ['codellama', ['<PRE>', '<SUF>', '<MID>']],
];

/**
 * Which FIM family a model speaks, given a test for whether its vocabulary has a token with
 * exactly this text. Null when it has none of them (it cannot fill in the middle).
 */
export function detectFimFamily(hasToken: (text: string) => boolean): FimFamily | null {
  for (const [family, tokens] of signatures) if (tokens.every(hasToken)) return family;
  return null;
}

/** What to tell the user when the loaded model cannot do fill-in-the-middle. */
export function noFimMessage(modelName: string): string {
  return (
    `The model "${modelName}" has no fill-in-the-middle tokens, so it cannot make inline completions. ` +
    'Choose a base coder model (for example Qwen2.5-Coder) with "Enclave: Choose a Model for This Machine".'
  );
}
