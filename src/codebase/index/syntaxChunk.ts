// Files cut into chunks at syntax boundaries: a file's top-level declarations (with the comments
// above them) are the units; a unit longer than a chunk is cut at its members (a class's methods,
// a function's statements, a bundle's IIFE body: whatever its largest descendant holds), and one
// with no such structure by lines. Neighbouring small units are merged up to the target size, so a
// declaration that fits in a chunk is never cut. Without a grammar for the file, or when the file is
// too large or its parse fails or takes too long, chunkLines as before.
import { chunkLines, type Chunk, type ChunkOptions } from './chunk';
import { languageOf, TreeSitter, treeSitterDir, type SyntaxNode } from './treeSitter';

export interface SyntaxChunkOptions extends ChunkOptions {
  /**
   * Larger files are chunked by lines: a parse costs ~0.2 s of CPU per MB, and a 300,000-character
   * file's tree took ~22 MB of WebAssembly memory, which the worker keeps once it has grown.
   */
  maxChars?: number;
  /** A parse that takes longer is abandoned for chunkLines. */
  timeoutMs?: number;
}

interface Unit {
  start: number;
  end: number;
  /** The declaration that starts the unit, when it is one node (a unit to cut further at its members). */
  node?: SyntaxNode;
}

/** Levels a too-large unit is descended (through its largest child) looking for members to cut at. */
const MAX_DESCENT = 8;
const isComment = (node: SyntaxNode) => node.type.includes('comment');
const rowsOf = (node: SyntaxNode) => node.endPosition.row - node.startPosition.row;

/**
 * `container`'s named children as units of lines from..to, cut before each child that starts a line
 * after the container's own first line; a comment on lines of its own goes with what follows it.
 */
function unitsOf(container: SyntaxNode, from: number, to: number): Unit[] {
  const units: Unit[] = [{ start: from, end: to }];
  const floor = Math.max(from, container.startPosition.row);
  let previousEnd = -1;
  let commentStart: number | undefined;
  for (let i = 0; i < container.namedChildCount; i++) {
    const child = container.namedChild(i);
    if (!child) continue;
    const row = child.startPosition.row;
    const onNewLine = row > previousEnd;
    previousEnd = Math.max(previousEnd, child.endPosition.row);
    if (isComment(child)) {
      if (onNewLine) commentStart ??= row;
      continue;
    }
    const start = commentStart ?? row;
    commentStart = undefined;
    let last = units[units.length - 1];
    if (onNewLine && start > floor && start > last.start && start < to) {
      last.end = start;
      last = { start, end: to };
      units.push(last);
    }
    // Nodes that start on one line (a class's name and body): the largest is what may be cut further.
    if (!last.node || rowsOf(child) > rowsOf(last.node)) last.node = child;
  }
  return units;
}

/** The node whose children cut `unit` at least once: `node` or its largest descendant, else undefined. */
function membersContainer(node: SyntaxNode, unit: Unit): SyntaxNode | undefined {
  let candidate: SyntaxNode | null = node;
  for (let depth = 0; candidate && depth < MAX_DESCENT; depth++) {
    if (unitsOf(candidate, unit.start, unit.end).length > 1) return candidate;
    let largest: SyntaxNode | null = null;
    let largestRows = 0;
    for (let i = 0; i < candidate.namedChildCount; i++) {
      const child = candidate.namedChild(i);
      if (child && rowsOf(child) >= largestRows) {
        largest = child;
        largestRows = rowsOf(child);
      }
    }
    candidate = largest;
  }
  return undefined;
}

/** `unit` as units no longer than a chunk: cut at its members where it has them, else by lines. */
function fit(unit: Unit, lines: string[], options: ChunkOptions, max: number, depth = 0): Unit[] {
  if (unit.end - unit.start <= max) return [unit];
  const container = unit.node && depth < MAX_DESCENT ? membersContainer(unit.node, unit) : undefined;
  if (container) return unitsOf(container, unit.start, unit.end).flatMap((part) => fit(part, lines, options, max, depth + 1));
  return chunkLines(lines.slice(unit.start, unit.end).join('\n'), options).map((c) => ({
    start: unit.start + c.startLine,
    end: unit.start + c.endLine,
  }));
}

/** The chunks of `text` from its syntax tree's root (see the file's header). */
export function chunkTree(root: SyntaxNode, text: string, options: ChunkOptions = {}): Chunk[] {
  const target = options.targetLines ?? 40;
  const min = options.minLines ?? 12;
  const max = options.maxLines ?? 80;
  const maxLineChars = options.maxLineChars ?? 400;
  const lines = text.split('\n');
  const units = unitsOf(root, 0, lines.length).flatMap((unit) => fit(unit, lines, options, max));
  // Neighbours merged while the chunk stays within the target, or within the cap while it is small.
  const merged: Unit[] = [];
  for (const unit of units) {
    const last = merged[merged.length - 1];
    const lastSize = last ? last.end - last.start : 0;
    const size = unit.end - unit.start;
    if (last && (lastSize + size <= target || (lastSize < min && lastSize + size <= max))) last.end = unit.end;
    else merged.push({ start: unit.start, end: unit.end });
  }
  const chunks: Chunk[] = [];
  for (const { start, end } of merged) {
    const body = lines
      .slice(start, end)
      .map((l) => (l.length > maxLineChars ? l.slice(0, maxLineChars) : l))
      .join('\n');
    if (body.trim()) chunks.push({ startLine: start, endLine: end, text: body });
  }
  return chunks;
}

/** Whether the text has at most `maxLines` lines (chunkLines makes it one chunk). */
function fitsOneChunk(text: string, maxLines: number): boolean {
  let newlines = 0;
  for (let i = text.indexOf('\n'); i >= 0 && newlines < maxLines; i = text.indexOf('\n', i + 1)) newlines++;
  return newlines < maxLines;
}

/** Chunks files by syntax where a grammar ships for their language, by lines otherwise. */
export class SyntaxChunker {
  private treeSitter?: Promise<TreeSitter | undefined>;
  /**
   * Files chunked each way (for the bench and the log): `lines` counts those that fit in one chunk
   * too; `failed`, among them, those whose parse failed or ran out of time.
   */
  readonly counts = { syntax: 0, lines: 0, failed: 0 };

  constructor(
    private readonly options: SyntaxChunkOptions = {},
    private readonly dir: string | undefined = treeSitterDir(),
  ) {}

  /** Whether the tree-sitter runtime loads (false: every file is chunked by lines). */
  async available(): Promise<boolean> {
    return !!(await this.runtime());
  }

  private runtime(): Promise<TreeSitter | undefined> {
    const dir = this.dir;
    this.treeSitter ??= dir ? TreeSitter.load(dir).catch(() => undefined) : Promise.resolve(undefined);
    return this.treeSitter;
  }

  /** The chunks of one file; never throws (a parser failure means chunks by lines). */
  async chunk(path: string, text: string): Promise<Chunk[]> {
    const language = languageOf(path);
    // A file that fits in one chunk is one chunk either way: no parse needed.
    const worthParsing = language && text.length <= (this.options.maxChars ?? 300_000) && !fitsOneChunk(text, this.options.maxLines ?? 80);
    const parser = worthParsing ? await (await this.runtime())?.parser(language) : undefined;
    const tree = parser && TreeSitter.parse(parser, text, this.options.timeoutMs ?? 1000);
    if (parser && !tree) this.counts.failed++;
    if (tree) {
      try {
        const chunks = chunkTree(tree.rootNode, text, this.options);
        this.counts.syntax++;
        return chunks;
      } catch {
        this.counts.failed++; // a tree the chunker cannot read: by lines below
      } finally {
        tree.delete();
      }
    }
    this.counts.lines++;
    return chunkLines(text, this.options);
  }
}
