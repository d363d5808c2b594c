// A throw-away git repository in a temp folder, for the review tests (real `git diff` output).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export class TempRepo {
  readonly root = mkdtempSync(join(tmpdir(), 'enclave-review-'));

  constructor() {
    this.git('init', '-q', '-b', 'main');
    this.git('config', 'user.email', 'test@example.com');
    this.git('config', 'user.name', 'Test');
    this.git('config', 'commit.gpgsign', 'false');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  }

  write(path: string, content: string | Buffer): void {
    const full = join(this.root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }

  read(path: string): string {
    return readFileSync(join(this.root, path), 'utf8');
  }

  commitAll(message = 'commit'): void {
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message);
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** `count` numbered lines of code: "const v1 = 1;\n…". */
export function numberedLines(count: number, name = 'v'): string {
  return Array.from({ length: count }, (_, i) => `const ${name}${i + 1} = ${i + 1};\n`).join('');
}
