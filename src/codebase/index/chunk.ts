// Files cut into chunks for the index by lines, at cheap syntax boundaries: a chunk ends at a blank
// line or before a line that starts at the file's outer indentation (a new top-level declaration),
// whichever comes nearest its target size. The fallback of syntaxChunk.ts (tree-sitter), for files
// without a grammar, files too large to parse, a failed parse, and files that fit in one chunk.

export interface Chunk {
  /** 0-based first line. */
  startLine: number;
  /** Line after the last. */
  endLine: number;
  text: string;
}

export interface ChunkOptions {
  /** A chunk is cut once it has this many lines, at the best boundary since minLines. */
  targetLines?: number;
  minLines?: number;
  /** Hard cap per chunk. */
  maxLines?: number;
  /** Lines longer than this are cut (minified code). */
  maxLineChars?: number;
}

const indentOf = (line: string) => line.length - line.trimStart().length;

export function chunkLines(text: string, options: ChunkOptions = {}): Chunk[] {
  const target = options.targetLines ?? 40;
  const min = options.minLines ?? 12;
  const max = options.maxLines ?? 80;
  const maxLineChars = options.maxLineChars ?? 400;
  const lines = text.split('\n').map((l) => (l.length > maxLineChars ? l.slice(0, maxLineChars) : l));
  const chunks: Chunk[] = [];
  let start = 0;
  // How good a place to cut before line i is: a top-level line after a blank one best.
  const boundary = (i: number): number => {
    const line = lines[i];
    if (line === undefined) return 3;
    const blankBefore = i > 0 && lines[i - 1].trim() === '';
    const topLevel = line.trim() !== '' && indentOf(line) === 0 && !/^[)}\]]/.test(line.trim());
    return (topLevel ? 2 : 0) + (blankBefore ? 1 : 0);
  };
  while (start < lines.length) {
    let cut = Math.min(lines.length, start + max);
    if (cut < lines.length) {
      let best = -1;
      let bestScore = 0;
      for (let i = start + min; i <= Math.min(lines.length - 1, start + max); i++) {
        const score = boundary(i);
        // Prefer strong boundaries; among equals the one nearest the target.
        const better =
          score > bestScore || (score === bestScore && score > 0 && Math.abs(i - start - target) < Math.abs(best - start - target));
        if (better) {
          best = i;
          bestScore = score;
        }
        if (i - start >= target && bestScore >= 2) break;
      }
      if (best > start) cut = best;
    }
    const body = lines.slice(start, cut).join('\n');
    if (body.trim()) chunks.push({ startLine: start, endLine: cut, text: body });
    start = cut;
  }
  return chunks;
}
