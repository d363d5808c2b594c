// Reading a search hit's text back from its file (the index stores positions, not text). Apart from
// the index so that the extension host, which reads hits, does not load the index's code.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where a hit is: a file of the workspace and its lines. */
export interface Hit {
  path: string;
  startLine: number;
  endLine: number;
  score: number;
}

/** A hit's text as the file has it now (undefined when the file is gone). */
export async function readHit(root: string, hit: Hit, maxChars = 4000): Promise<string | undefined> {
  try {
    const text = await readFile(join(root, hit.path), 'utf8');
    const lines = text.split('\n').slice(hit.startLine, hit.endLine).join('\n');
    return lines.length > maxChars ? `${lines.slice(0, maxChars)}\n…` : lines;
  } catch {
    return undefined;
  }
}
