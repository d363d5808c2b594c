// Typing traces over real source files nobody here wrote (packages in node_modules, the system's
// Python library): the user types a stretch of the file's own text one character at a time, with
// the rest of the file after the cursor (starting on a line of its own, as in an editor where the
// user writes new lines). Each keystroke is one document state: text, cursor offset.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ContextChunk } from '../../../src/completion/extraContext';

export interface SourceFile {
  name: string;
  path: string;
  languageId: string;
  /** Where the user starts typing: after the first line that matches. */
  startAt: RegExp;
}

export interface Keystroke {
  text: string;
  offset: number;
  /** What was typed to get here. */
  typed: string;
}

export interface Trace {
  file: SourceFile;
  uri: string;
  keystrokes: Keystroke[];
}

export function sourceFiles(root: string): SourceFile[] {
  const nm = (p: string) => join(root, 'node_modules', p);
  const candidates: SourceFile[] = [
    {
      name: 'lru-cache/index.js',
      path: nm('lru-cache/dist/commonjs/index.js'),
      languageId: 'javascript',
      startAt: /^ {4}set\(k, v, setOptions = \{\}\) \{$/m,
    },
    {
      name: 'entities/decode.ts',
      path: nm('markdown-it/node_modules/entities/src/decode.ts'),
      languageId: 'typescript',
      startAt: /^export function determineBranch\(/m,
    },
    {
      name: 'node-api-headers/js_native_api.h',
      path: nm('node-api-headers/include/js_native_api.h'),
      languageId: 'c',
      startAt: /^NAPI_EXTERN napi_status NAPI_CDECL napi_has_element\(napi_env env,$/m,
    },
    {
      name: 'python/textwrap.py',
      path: '/usr/lib/python3.11/textwrap.py',
      languageId: 'python',
      startAt: /^ {4}def _split\(self, text\):$/m,
    },
    { name: 'mocha/mocha.css', path: nm('mocha/mocha.css'), languageId: 'css', startAt: /^#mocha \.test pre \{$/m },
  ];
  return candidates.filter((f) => existsSync(f.path) && f.startAt.test(readFileSync(f.path, 'utf8')));
}

/** `count` keystrokes typing the file's text after `file.startAt`, one character each. */
export function makeTrace(file: SourceFile, count: number): Trace {
  const original = readFileSync(file.path, 'utf8');
  const match = file.startAt.exec(original);
  if (!match) throw new Error(`${file.name}: start line not found`);
  const start = match.index + match[0].length + 1;
  // The typed region ends at a line end, so the text after it starts on a line of its own and the
  // cursor always sits at the end of its line (no code right of the cursor).
  const end = original.indexOf('\n', start + count);
  const target = original.slice(start, end === -1 ? original.length : end);
  const before = original.slice(0, start);
  const after = original.slice(start + target.length);
  const keystrokes: Keystroke[] = [];
  for (let i = 1; i <= Math.min(count, target.length); i++) {
    const typed = target.slice(0, i);
    keystrokes.push({ text: before + typed + after, offset: before.length + typed.length, typed: target[i - 1] });
  }
  return { file, uri: `file:///peer/${file.name}`, keystrokes };
}

/** Chunks of other files for the extra-context traces (what the ring would hold after visiting them). */
export function extraChunks(files: SourceFile[], exclude: SourceFile, lines = 48): ContextChunk[] {
  const chunks: ContextChunk[] = [];
  for (const f of files) {
    if (f === exclude) continue;
    const text = readFileSync(f.path, 'utf8');
    const all = text.split('\n');
    const at = text.slice(0, f.startAt.exec(text)?.index ?? 0).split('\n').length - 1;
    const first = Math.max(0, Math.min(at - Math.floor(lines / 2), all.length - lines));
    chunks.push({ uri: `file:///peer/${f.name}`, path: f.name, text: all.slice(first, first + lines).join('\n') });
  }
  return chunks;
}
