// The index worker bundled the way esbuild.js bundles it for the extension, into a temp folder:
// the unit test and the bench start the real worker thread from it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildSync } from 'esbuild';

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
  return { script, dir };
}
