// Prompt formats of the open next-edit models, and a fallback for a general Qwen instruct model.
// A next-edit model's format is one raw prompt (special tokens written as text, like a FIM prompt)
// whose stable part comes first — instructions, then the edit history oldest → newest — so successive requests reuse
// the engine's KV cache, and ends so that the model's next tokens are the rewritten region: the
// output mostly copies the region, which prompt-lookup drafting turns into near-total acceptance.
//
// Facts about the formats (from their public descriptions; no code carried over):
// - Zeta (Zed, a Qwen2.5-Coder-7B fine-tune): Alpaca-style sections "### Instruction:",
//   "### User Edits:" (each edit `User edited "path":` and a ```diff block), "### User Excerpt:"
//   (a ```path fence; `<|start_of_file|>` when the excerpt starts the file; the editable region
//   between `<|editable_region_start|>` and `<|editable_region_end|>` with
//   `<|user_cursor_is_here|>`), then "### Response:"; the response repeats the excerpt with the
//   region rewritten. We prefill the response up to the region start, so generation is the region.
// - Instinct (Continue, a Qwen2.5-Coder-7B fine-tune): the Qwen chat template with a system prompt;
//   the user turn has "### Context:" (`<|context_file|> path` / `<|snippet|>`), "### User Edits:"
//   (newest first in Continue's client), "### User Excerpt:" (path, excerpt with the same region and
//   cursor markers); the answer is the region's new text only, without markers.
// - Sweep next-edit (0.5B–7B, Qwen2.5-Coder): Qwen's repository format with `<|file_sep|>` files:
//   context files, each recent edit as `path.diff` with "original:" / "updated:" blocks, then
//   `original/path:a:b` (the window before the latest edit), `current/path:a:b` (with `<|cursor|>`)
//   and `updated/path:a:b`, after which the model writes the window; ends at `<|file_sep|>` or EOS.
//   Trained on fixed 21-line windows (10 lines above and below the cursor line).
// - Instruct (any chat model): chat messages through the model's own template; the answer is JSON
//   `{"region": …}` under a grammar (a JSON schema), so it is never a free-text code block.
// Related excerpts (definitions from other files) go where a format has a slot for them: Instinct's
// "### Context:", Sweep's leading context files, the instruct prompt's "Related code:"; Zeta has none.
import type { ChatMessage } from '../engine/protocol';
import type { EditableRegion } from './edits';
import { normalize } from './edits';
import type { EditHunk } from './history';

export type NextEditFormatName = 'zeta' | 'instinct' | 'sweep' | 'instruct';
export type NextEditFormatSetting = NextEditFormatName | 'auto';

export const NEXT_EDIT_FORMATS: readonly NextEditFormatSetting[] = ['auto', 'zeta', 'instinct', 'sweep', 'instruct'];

/** What every format is built from (all text newline-normalised). */
export interface PromptInput {
  /** The file's path as the prompt names it (workspace-relative where known). */
  path: string;
  languageId: string;
  region: EditableRegion;
  /** The cursor as an offset in `region.text`. */
  cursor: number;
  /** Whole lines above and below the region shown as context (no trailing newline). */
  before: string;
  after: string;
  /** Whether `before` starts at the top of the file. */
  startOfFile: boolean;
  /** Recent edits, oldest first. */
  history: EditHunk[];
  /** Paths of `history` hunks' documents, as the prompt names them. */
  pathOf: (uri: string) => string;
  /** Related excerpts from other files (optional context). */
  related?: { path: string; text: string }[];
}

/** A predicted region, and the cursor in it where the model placed its marker. */
export interface ParsedRegion {
  text: string;
  cursor?: number;
}

/** A raw prompt (a next-edit model's own format) that the model continues with the region. */
export interface RawPrompt {
  kind: 'raw';
  prompt: string;
  stop: string[];
  /** The model's text after the prompt → the predicted region and cursor, or undefined. */
  parse(output: string): ParsedRegion | undefined;
}

/** Chat messages (the model's own chat template) answered under a JSON schema (a grammar). */
export interface StructuredPrompt {
  kind: 'structured';
  messages: ChatMessage[];
  schema: object;
  /** The value the grammar produced → the predicted region and cursor, or undefined. */
  parse(value: unknown): ParsedRegion | undefined;
}

export type BuiltPrompt = RawPrompt | StructuredPrompt;

/** The prompt's text as the model reads it, bar the chat template (for tests and measurements). */
export function promptText(built: BuiltPrompt): string {
  return built.kind === 'raw' ? built.prompt : built.messages.map((m) => m.content).join('\n');
}

/** How many lines around the cursor line the region spans, per format. */
export const REGION_LINES: Record<NextEditFormatName, { above: number; below: number }> = {
  zeta: { above: 5, below: 10 },
  instinct: { above: 1, below: 5 },
  sweep: { above: 10, below: 10 },
  instruct: { above: 5, below: 10 },
};

const ZETA_START = '<|editable_region_start|>';
const ZETA_END = '<|editable_region_end|>';
const ZETA_CURSOR = '<|user_cursor_is_here|>';
const SWEEP_CURSOR = '<|cursor|>';
const FILE_SEP = '<|file_sep|>';

export function buildPrompt(format: NextEditFormatName, input: PromptInput): BuiltPrompt {
  switch (format) {
    case 'zeta':
      return zeta(input);
    case 'instinct':
      return instinct(input);
    case 'sweep':
      return sweep(input);
    case 'instruct':
      return instruct(input);
  }
}

/**
 * The format a model was trained on, from what its file says: names (GGUF general.name, basename,
 * fine-tune, repository, base models, the file name) and its special tokens — a vocabulary with
 * Zeta's region markers as tokens was trained on them.
 */
export function detectFormat(names: string[]): NextEditFormatName {
  const text = names.join(' ').toLowerCase();
  if (/\binstinct\b/.test(text)) return 'instinct';
  if (/\bzeta\b|zed-industries/.test(text)) return 'zeta';
  if (/sweep/.test(text) && /next[-_ ]?edit/.test(text)) return 'sweep';
  if (names.includes(ZETA_START) || names.includes(ZETA_CURSOR)) return 'zeta';
  return 'instruct';
}

const withCursor = (input: PromptInput, marker: string): string =>
  input.region.text.slice(0, input.cursor) + marker + input.region.text.slice(input.cursor);

const join = (...blocks: string[]): string => blocks.filter((b) => b.length > 0).join('\n');

/** A hunk as unified-diff lines (header and -/+ lines), the way the history sections show edits. */
export function hunkDiff(h: EditHunk): string {
  // Hunks are whole lines: an empty text is one empty line.
  const oldLines = normalize(h.oldText).split('\n');
  const newLines = normalize(h.newText).split('\n');
  const header = `@@ -${h.startLine + 1},${oldLines.length} +${h.startLine + 1},${newLines.length} @@`;
  return [header, ...oldLines.map((l) => `-${l}`), ...newLines.map((l) => `+${l}`)].join('\n');
}

/** Takes the cursor marker out of a predicted region, remembering where it was. */
function withoutMarker(text: string, marker: string): { text: string; cursor?: number } {
  const at = text.indexOf(marker);
  if (at < 0) return { text };
  return { text: text.slice(0, at) + text.split(marker).slice(1).join(''), cursor: at };
}

/** Strips the one newline that separates the region from the marker after it. */
const chompNewline = (text: string): string => (text.endsWith('\n') ? text.slice(0, -1) : text);

function zeta(input: PromptInput): BuiltPrompt {
  const events = input.history.map((h) => `User edited "${input.pathOf(h.uri)}":\n\`\`\`diff\n${hunkDiff(h)}\n\`\`\``).join('\n\n');
  const head = join(`\`\`\`${input.path}`, input.startOfFile ? '<|start_of_file|>' : '', input.before, ZETA_START);
  const excerpt = join(head, withCursor(input, ZETA_CURSOR), ZETA_END, input.after, '```');
  const prompt =
    '### Instruction:\nYou are a code completion assistant and your task is to analyze user edits and then rewrite an ' +
    'excerpt that the user provides, suggesting the appropriate edits within the excerpt, taking into account the cursor location.\n\n' +
    `### User Edits:\n\n${events}\n\n### User Excerpt:\n\n${excerpt}\n\n### Response:\n${head}\n`;
  return {
    kind: 'raw',
    prompt,
    stop: [ZETA_END],
    parse: (output) => {
      if (output.includes(ZETA_START)) return undefined;
      return withoutMarker(chompNewline(output), ZETA_CURSOR);
    },
  };
}

function instinct(input: PromptInput): BuiltPrompt {
  const context = (input.related ?? []).map((r) => `<|context_file|> ${r.path}\n<|snippet|>\n${r.text}`).join('\n');
  const edits = input.history.map((h) => `User edited file "${input.pathOf(h.uri)}"\n\n\`\`\`diff\n${hunkDiff(h)}\n\`\`\``).join('\n');
  const excerpt = join(input.before, ZETA_START, withCursor(input, ZETA_CURSOR), ZETA_END, input.after);
  const system =
    'You are Instinct, a next-edit predictor. Predict the next edit the developer will make inside the section ' +
    `marked by ${ZETA_START} and ${ZETA_END}, using the context, their recent edits and the cursor position ` +
    `(${ZETA_CURSOR}). Output only the rewritten editable region, without the markers.`;
  const user =
    "Reference the user excerpt, user edits, and the snippets to understand the developer's intent. Update the editable " +
    'region of the user excerpt by predicting and completing the changes they would have made next.\n\n' +
    `### Context:\n${context}\n\n### User Edits:\n\n${edits}\n\n### User Excerpt:\n${input.path}\n\n${excerpt}\n\n### Response:`;
  return {
    kind: 'raw',
    prompt: chatml(system, user),
    stop: ['<|im_end|>'],
    parse: (output) => {
      if (output.includes(ZETA_START) || output.includes(ZETA_END)) return undefined;
      return withoutMarker(stripFence(output), ZETA_CURSOR);
    },
  };
}

function sweep(input: PromptInput): BuiltPrompt {
  const lines = `${input.region.startLine + 1}:${input.region.startLine + input.region.text.split('\n').length}`;
  const context = (input.related ?? []).map((r) => `${FILE_SEP}${r.path}\n${r.text}`);
  const diffs = input.history.map(
    (h) => `${FILE_SEP}${input.pathOf(h.uri)}.diff\noriginal:\n${normalize(h.oldText)}\nupdated:\n${normalize(h.newText)}`,
  );
  const prompt =
    join(
      ...context,
      ...diffs,
      `${FILE_SEP}original/${input.path}:${lines}`,
      beforeLatestEdit(input),
      `${FILE_SEP}current/${input.path}:${lines}`,
      withCursor(input, SWEEP_CURSOR),
      `${FILE_SEP}updated/${input.path}:${lines}`,
    ) + '\n';
  return {
    kind: 'raw',
    prompt,
    stop: [FILE_SEP],
    parse: (output) => withoutMarker(chompNewline(output), SWEEP_CURSOR),
  };
}

/**
 * The JSON the instruct fallback answers with: the rewritten region, nothing else, at most
 * `maxLength` characters (the grammar closes the string in time, so the answer always parses).
 */
export function regionSchema(maxLength: number): object {
  return {
    type: 'object',
    properties: { region: { type: 'string', maxLength } },
    required: ['region'],
    additionalProperties: false,
  };
}

function instruct(input: PromptInput): StructuredPrompt {
  const fence = '```';
  const related = (input.related ?? []).map((r) => `${r.path}\n${fence}\n${r.text}\n${fence}`).join('\n\n');
  const edits = input.history.map((h) => `${input.pathOf(h.uri)}\n${fence}diff\n${hunkDiff(h)}\n${fence}`).join('\n\n');
  const excerpt = join(input.before, ZETA_START, withCursor(input, ZETA_CURSOR), ZETA_END, input.after);
  const system =
    "You predict a programmer's next edit. You get related code from other files, their recent edits (oldest first) " +
    `and an excerpt of the file they are editing, with an editable region between ${ZETA_START} and ${ZETA_END} and ` +
    `their cursor at ${ZETA_CURSOR}. Answer in JSON: {"region": the editable region rewritten with the edit they will ` +
    'most likely make next (the region unchanged when there is none), without the markers}.';
  // Stable first (KV reuse): related code changes only when the cursor moves to other names, the
  // edits grow at their end, the excerpt changes with every keystroke.
  const user =
    (related ? `Related code:\n\n${related}\n\n` : '') +
    `Recent edits:\n\n${edits || '(none)'}\n\nFile ${input.path}:\n${fence}${input.languageId}\n${excerpt}\n${fence}`;
  return {
    kind: 'structured',
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ],
    // Room for the next edit: a few lines more than the region has now.
    schema: regionSchema(input.region.text.length + 256),
    parse: (value) => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
      const region = (value as { region?: unknown }).region;
      if (typeof region !== 'string') return undefined;
      const text = normalize(region);
      if (text.includes(ZETA_START) || text.includes(ZETA_END)) return undefined;
      return withoutMarker(chompNewline(stripFence(text)), ZETA_CURSOR);
    },
  };
}

function chatml(system: string, user: string): string {
  return `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
}

/** A region answered inside one code fence (some models add one anyway) → the fence's content. */
function stripFence(output: string): string {
  const text = chompNewline(output);
  const match = /^```[^\n]*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return match ? match[1] : text;
}

/** The region as it was before the latest edit (Sweep's "original" window), when it lies inside. */
function beforeLatestEdit(input: PromptInput): string {
  const latest = input.history[input.history.length - 1];
  const region = input.region.text;
  if (!latest) return region;
  const lines = region.split('\n');
  const newLines = normalize(latest.newText).split('\n');
  const at = latest.startLine - input.region.startLine;
  if (at < 0 || at + newLines.length > lines.length) return region;
  if (lines.slice(at, at + newLines.length).join('\n') !== newLines.join('\n')) return region;
  return [...lines.slice(0, at), normalize(latest.oldText), ...lines.slice(at + newLines.length)].join('\n');
}
