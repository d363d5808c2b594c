// Tree-sitter's WebAssembly runtime and grammars (@vscode/tree-sitter-wasm), loaded in the index
// worker: the runtime once, a grammar on the first file of its language. Not bundled: esbuild.js
// copies the runtime and the grammars of grammars.json to dist/tree-sitter/, and this loads them
// from there (or from the package in a development checkout). The types below are the few parts of
// web-tree-sitter's API the chunker uses, so the code type-checks without the package.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';

import grammars from './grammars.json';

export interface SyntaxNode {
  readonly type: string;
  readonly startPosition: { row: number; column: number };
  readonly endPosition: { row: number; column: number };
  readonly namedChildCount: number;
  namedChild(index: number): SyntaxNode | null;
}

export interface SyntaxTree {
  readonly rootNode: SyntaxNode;
  delete(): void;
}

interface Language {
  readonly name: string | null;
}

interface Parser {
  setLanguage(language: Language | null): Parser;
  parse(text: string, oldTree?: null, options?: { progressCallback?: (state: { currentOffset: number }) => boolean }): SyntaxTree | null;
  reset(): void;
}

interface Runtime {
  Parser: { init(options?: { locateFile: (file: string, folder: string) => string }): Promise<void>; new (): Parser };
  Language: { load(bytes: Uint8Array): Promise<Language> };
}

const RUNTIME = 'tree-sitter.js';
const languageOfExtension = new Map<string, string>(
  Object.entries(grammars as Record<string, string[]>).flatMap(([language, extensions]) => extensions.map((ext) => [ext, language])),
);

/** The grammar (a key of grammars.json) for a file path, by its extension; undefined when none ships. */
export function languageOf(path: string): string | undefined {
  return languageOfExtension.get(extname(path).toLowerCase());
}

/**
 * The folder that holds tree-sitter.js, tree-sitter.wasm and the grammars: next to the bundle
 * (dist/tree-sitter, what the VSIX ships), else the installed package's wasm/ folder, else
 * ENCLAVE_TREE_SITTER_DIR (tests and benches of a checkout without the package). Undefined: none.
 */
export function treeSitterDir(): string | undefined {
  const candidates = [join(__dirname, 'tree-sitter')];
  try {
    candidates.push(join(require.resolve('@vscode/tree-sitter-wasm/package.json'), '..', 'wasm'));
  } catch {
    // not installed
  }
  const fromEnv = process.env.ENCLAVE_TREE_SITTER_DIR;
  if (fromEnv) candidates.push(join(fromEnv, 'wasm'), fromEnv);
  return candidates.find((dir) => existsSync(join(dir, RUNTIME)));
}

/** Parsers by language, made on first use; a language whose grammar failed to load stays undefined. */
export class TreeSitter {
  private readonly parsers = new Map<string, Promise<Parser | undefined>>();

  private constructor(
    private readonly dir: string,
    private readonly runtime: Runtime,
  ) {}

  /** The runtime from `dir`, initialised; throws when it cannot be loaded. */
  static async load(dir: string): Promise<TreeSitter> {
    const runtime = createRequire(__filename)(join(dir, RUNTIME)) as Runtime;
    await runtime.Parser.init({ locateFile: (file) => join(dir, file) });
    return new TreeSitter(dir, runtime);
  }

  /** The parser for `language`, or undefined when its grammar is not there or does not load. */
  parser(language: string): Promise<Parser | undefined> {
    let found = this.parsers.get(language);
    if (!found) {
      found = (async () => {
        const file = join(this.dir, `tree-sitter-${language}.wasm`);
        if (!existsSync(file)) return undefined;
        try {
          const parser = new this.runtime.Parser();
          parser.setLanguage(await this.runtime.Language.load(readFileSync(file)));
          return parser;
        } catch {
          return undefined;
        }
      })();
      this.parsers.set(language, found);
    }
    return found;
  }

  /**
   * The syntax tree of `text`, or undefined when parsing takes longer than `timeoutMs` (a grammar
   * with a pathological case must not hold up the build) or fails. The caller deletes the tree.
   */
  static parse(parser: Parser, text: string, timeoutMs: number): SyntaxTree | undefined {
    const deadline = performance.now() + timeoutMs;
    try {
      const tree = parser.parse(text, null, { progressCallback: () => performance.now() > deadline });
      if (!tree) parser.reset();
      return tree ?? undefined;
    } catch {
      parser.reset();
      return undefined;
    }
  }
}
