// The index worker bundled the way esbuild.js bundles it for the extension, into a temp folder:
// the unit test and the bench start the real worker thread from it.
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildSync } from 'esbuild';

import { treeSitterDir } from '../../src/codebase/index/treeSitter';

export function bundleIndexWorker(): { script: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-index-worker-'));
  const script = join(dir, 'indexWorker.js');
  buildSync({
    entryPoints: [join(__dirname, '..', '..', 'src', 'codebase', 'index', 'worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: script,
    logLevel: 'warning',
  });
  // Tree-sitter next to the bundle, as esbuild.js puts it in dist/: a link to the package's files.
  const treeSitter = treeSitterDir();
  if (treeSitter) symlinkSync(treeSitter, join(dir, 'tree-sitter'), 'junction');
  return { script, dir };
}
