// Path containment, the one check behind every "is this file inside the (untrusted) workspace?".
import * as path from 'node:path';

/**
 * Whether `file` is `folder` or lies under it. A name that merely starts with two dots
 * (`..x.gguf`) is inside; `..` and `../x` are not; on Windows another drive is not.
 */
export function isInside(folder: string, file: string): boolean {
  const rel = path.relative(path.resolve(folder), path.resolve(folder, file));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Whether `file` lies in any of `folders`. */
export function insideAny(folders: readonly string[], file: string): boolean {
  return folders.some((folder) => isInside(folder, file));
}
