// Commit messages without vscode: the repository's own style read from its recent subjects, the
// change described within a budget (review's diff parser and generated-file rules: lockfiles,
// generated, binary and huge files are named with their size of change, never pasted), the
// prompt, and the model's answer cleaned into "subject\n\nbody".
import { generatedByContent, generatedByPath, type FileDiff } from '../review/diff';
import type { ChatMessage } from '../engine/protocol';
import { systemWithRules, type RulesText } from '../rules/prompt';

export interface CommitStyle {
  /** Subjects look like `type(scope): text` (Conventional Commits). */
  conventional: boolean;
  /** The types seen, most used first (feat, fix …), when conventional. */
  types: string[];
  /** Median subject length in characters. */
  typicalLength: number;
  /** Subjects (after any `type:` prefix) start with a capital letter. */
  capitalized: boolean;
  /** Subjects end with a full stop. */
  period: boolean;
  /** The language the subjects are written in, when recognisable. */
  language: string | undefined;
  /** A few recent subjects, to show the model. */
  examples: string[];
}

const CONVENTIONAL = /^(\w+)(\([^)]*\))?!?: \S/;
const LANGUAGE_WORDS: Record<string, readonly string[]> = {
  English: ['the', 'and', 'add', 'fix', 'for', 'to', 'of', 'in', 'remove', 'update', 'use', 'with', 'when', 'a'],
  German: ['der', 'die', 'das', 'und', 'für', 'mit', 'nicht', 'ein', 'eine', 'hinzugefügt', 'behoben', 'von', 'zu'],
  French: ['le', 'la', 'les', 'et', 'pour', 'des', 'du', 'une', 'ajout', 'correction', 'dans', 'avec'],
  Spanish: ['el', 'los', 'las', 'y', 'para', 'con', 'una', 'agregar', 'corregir', 'del', 'en', 'por'],
};

/** The style of a repository's recent commit subjects (newest first); merges and reverts are ignored. */
export function detectCommitStyle(subjects: readonly string[]): CommitStyle {
  const own = subjects.map((s) => s.trim()).filter((s) => s && !/^(Merge|Revert) /.test(s) && !/^fixup! |^squash! /.test(s));
  const conventionalOnes = own.filter((s) => CONVENTIONAL.test(s));
  const conventional = own.length > 0 && conventionalOnes.length * 2 > own.length;
  const typeCounts = new Map<string, number>();
  for (const s of conventionalOnes) {
    const type = CONVENTIONAL.exec(s)![1].toLowerCase();
    typeCounts.set(type, (typeCounts.get(type) ?? 0) + 1);
  }
  const texts = own.map((s) => (conventional ? s.replace(/^\w+(\([^)]*\))?!?: /, '') : s));
  const lengths = own.map((s) => [...s].length).sort((a, b) => a - b);
  const letters = texts.filter((t) => /^\p{L}/u.test(t));
  return {
    conventional,
    types: [...typeCounts.entries()].sort((a, b) => b[1] - a[1]).map(([type]) => type),
    typicalLength: lengths.length ? lengths[Math.floor(lengths.length / 2)] : 50,
    capitalized: letters.length === 0 || letters.filter((t) => /^\p{Lu}/u.test(t)).length * 2 >= letters.length,
    period: own.length > 0 && own.filter((s) => s.endsWith('.')).length * 2 > own.length,
    language: detectLanguage(texts),
    examples: own.slice(0, 6),
  };
}

function detectLanguage(texts: readonly string[]): string | undefined {
  const joined = texts.join(' ');
  if (!joined.trim()) return undefined;
  if (/[\u3040-\u30ff]/.test(joined)) return 'Japanese';
  if (/[\u4e00-\u9fff]/.test(joined)) return 'Chinese';
  if (/[\uac00-\ud7af]/.test(joined)) return 'Korean';
  if (/[\u0400-\u04ff]/.test(joined)) return 'Russian';
  const words = joined
    .toLowerCase()
    .split(/[^\p{L}]+/u)
    .filter(Boolean);
  let best: string | undefined;
  let bestScore = 0;
  for (const [language, list] of Object.entries(LANGUAGE_WORDS)) {
    const score = words.filter((w) => list.includes(w)).length;
    if (score > bestScore) [best, bestScore] = [language, score];
  }
  return bestScore >= 2 ? best : undefined;
}

/** A changed file as git's numstat and a size check see it, before any diff text is read. */
export interface ChangedFile {
  path: string;
  /** Added / deleted lines; null for a binary file. */
  added: number | null;
  deleted: number | null;
  /** Size in bytes of the new version (the index or working tree), when known. */
  sizeBytes?: number;
}

/** Files whose diff is pasted whole stay below this; larger ones are described by their line counts. */
export const MAX_DIFF_FILE_BYTES = 1024 * 1024;

/** Parses `git diff --numstat -z` (renames come as "added\tdeleted\t\0old\0new\0"). */
export function parseNumstat(output: string): ChangedFile[] {
  const parts = output.split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i < parts.length; i++) {
    const m = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(parts[i]);
    if (!m) continue;
    let path = m[3];
    if (path === '') {
      // A rename: the old path, then the new one.
      path = parts[i + 2] ?? parts[i + 1] ?? '';
      i += 2;
    }
    files.push({ path, added: m[1] === '-' ? null : Number(m[1]), deleted: m[2] === '-' ? null : Number(m[2]) });
  }
  return files;
}

/** Why a file's diff is described instead of pasted, or undefined to paste it. */
export function summaryReason(file: ChangedFile): string | undefined {
  if (file.added === null || file.deleted === null) return 'binary';
  if (file.sizeBytes !== undefined && file.sizeBytes > MAX_DIFF_FILE_BYTES) return 'over 1 MB';
  const generated = generatedByPath(file.path);
  if (generated) return generated;
  return undefined;
}

/** One line naming a file and how much of it changed, for files whose diff is not pasted. */
export function summaryLine(file: ChangedFile, reason: string): string {
  if (file.added === null || file.deleted === null) return `${file.path}: binary file changed`;
  return `${file.path}: ${file.added + file.deleted} lines changed (+${file.added} −${file.deleted}, ${reason}, not shown)`;
}

/**
 * The change for the prompt: each pasted file's unified diff while the budget lasts, then the
 * rest (and every summarised file) as one line each. Files whose added lines look generated
 * (a generated header, minified lines) are summarised too.
 */
export function describeChanges(
  files: readonly ChangedFile[],
  diffs: readonly FileDiff[],
  budgetChars: number,
): { text: string; pasted: number; summarised: number } {
  const byPath = new Map(diffs.map((d) => [d.path, d]));
  const pasted: string[] = [];
  const summaries: string[] = [];
  let left = budgetChars;
  for (const file of files) {
    const diff = byPath.get(file.path);
    const added = diff?.hunks.flatMap((h) => h.lines.filter((l) => l.kind === 'add').map((l) => l.text)) ?? [];
    const reason = summaryReason(file) ?? (diff && generatedByContent(added.slice(0, 40)));
    if (reason || !diff) {
      summaries.push(summaryLine(file, reason ?? 'no diff'));
      continue;
    }
    const text = renderFileDiff(diff);
    if (text.length > left) {
      summaries.push(summaryLine(file, 'over the prompt budget'));
      continue;
    }
    pasted.push(text);
    left -= text.length;
  }
  const parts = [...pasted];
  if (summaries.length) parts.push(`Other changed files:\n${summaries.join('\n')}`);
  return { text: parts.join('\n\n'), pasted: pasted.length, summarised: summaries.length };
}

function renderFileDiff(diff: FileDiff): string {
  const title =
    diff.status === 'renamed'
      ? `--- ${diff.oldPath} → ${diff.newPath}`
      : `--- ${diff.path}${diff.status === 'modified' ? '' : ` (${diff.status})`}`;
  const hunks = diff.hunks.map((h) =>
    [
      `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`,
      ...h.lines.map((l) => (l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : ' ') + l.text),
    ].join('\n'),
  );
  return [title, ...hunks].join('\n');
}

export function styleInstructions(style: CommitStyle): string {
  const lines = [
    style.conventional
      ? `Use Conventional Commits: "type(scope): summary"${style.types.length ? `, types this repository uses: ${style.types.slice(0, 6).join(', ')}` : ''}.`
      : 'Do not use a "type:" prefix; write a plain summary line.',
    `Keep the subject line around ${Math.min(72, Math.max(20, style.typicalLength))} characters, at most 72.`,
    style.capitalized ? 'Start the summary with a capital letter.' : 'Start the summary with a lower-case letter.',
    style.period ? 'End the subject with a full stop.' : 'Do not end the subject with a full stop.',
    style.language ? `Write in ${style.language}.` : 'Write in the language of the example subjects.',
  ];
  if (style.examples.length) lines.push(`Recent subjects in this repository:\n${style.examples.map((e) => `- ${e}`).join('\n')}`);
  return lines.join('\n');
}

export function commitMessages(input: { style: CommitStyle; changes: string; rules?: RulesText }): ChatMessage[] {
  const system = systemWithRules(
    [
      'You write git commit messages. Reply with the message only: a subject line, then optionally a blank line and a short body',
      'explaining why the change was made. No markdown fences, no quotes, no preamble.',
      styleInstructions(input.style),
    ].join('\n'),
    input.rules,
  );
  return [
    { role: 'system', content: system },
    { role: 'user', content: `Write the commit message for this change:\n\n${input.changes}` },
  ];
}

/** The model's answer as a commit message: fences, quotes and a "Commit message:" label removed, subject then body. */
export function cleanCommitMessage(answer: string): string {
  let lines = answer.replace(/\r\n/g, '\n').split('\n');
  lines = lines.filter((l) => !/^\s*```/.test(l));
  while (lines.length && lines[0].trim() === '') lines.shift();
  if (lines.length && /^\s*(commit message|subject)\s*:\s*$/i.test(lines[0])) lines.shift();
  if (lines.length) lines[0] = lines[0].replace(/^\s*(commit message|subject)\s*:\s*/i, '');
  const subject = (lines[0] ?? '').trim().replace(/^["'`]+|["'`]+$/g, '');
  const body = lines
    .slice(1)
    .join('\n')
    .trim()
    .replace(/\n{3,}/g, '\n\n');
  return body ? `${subject}\n\n${body}` : subject;
}
