// The read-file tool's core (plain Node fs): a model may read a text file of the open workspace,
// nothing else — not through `..`, an absolute path or a symlink out of it — and at most a capped
// amount of it. Every refusal is an error the model (and the user) can act on.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { isInside } from '../paths';
import { decodeUtf8 } from '../rules/loader';

export const MAX_TOOL_FILE_BYTES = 64 * 1024;

export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolInputError';
  }
}

export interface WorkspaceFileText {
  /** The path as shown to the model: relative to its workspace folder. */
  path: string;
  text: string;
  truncated: boolean;
}

/** Reads `requested` (relative to the first folder, or absolute inside one of `folders`). */
export async function readWorkspaceFile(
  folders: readonly string[],
  requested: unknown,
  maxBytes = MAX_TOOL_FILE_BYTES,
): Promise<WorkspaceFileText> {
  if (typeof requested !== 'string' || requested.trim() === '')
    throw new ToolInputError('Give "path": a file path relative to the workspace folder.');
  if (folders.length === 0) throw new ToolInputError('No folder is open in the editor, so there is no workspace file to read.');
  const full = path.isAbsolute(requested) ? path.normalize(requested) : path.join(folders[0], requested);
  const folder = folders.find((f) => isInside(f, full));
  if (!folder) throw new ToolInputError(`${requested} is outside the workspace; only files inside it can be read.`);
  let real: string;
  try {
    real = await fs.realpath(full);
  } catch {
    throw new ToolInputError(`${requested} does not exist in the workspace.`);
  }
  const realFolder = await fs.realpath(folder).catch(() => folder);
  if (!isInside(realFolder, real)) throw new ToolInputError(`${requested} links to a file outside the workspace; it is not read.`);
  const stat = await fs.stat(real);
  if (stat.isDirectory()) throw new ToolInputError(`${requested} is a folder, not a file.`);
  if (!stat.isFile()) throw new ToolInputError(`${requested} is not a regular file.`);
  const handle = await fs.open(real, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes + 1));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const truncated = bytesRead > maxBytes;
    const text = decodeUtf8(buffer.subarray(0, Math.min(bytesRead, maxBytes)), truncated);
    if (text === undefined) throw new ToolInputError(`${requested} is not a UTF-8 text file (binary or another encoding).`);
    return { path: path.relative(folder, full).split(path.sep).join('/'), text, truncated };
  } finally {
    await handle.close();
  }
}
