// Syntax chunking with the real tree-sitter runtime and grammars: @vscode/tree-sitter-wasm when
// installed, else the unpacked copy ENCLAVE_TREE_SITTER_DIR names.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { chunkLines, type Chunk } from '../../src/codebase/index/chunk';
import { IndexWorkerClient } from '../../src/codebase/index/client';
import { SyntaxChunker } from '../../src/codebase/index/syntaxChunk';
import { treeSitterDir } from '../../src/codebase/index/treeSitter';
import { bundleIndexWorker } from '../bench/indexWorkerBundle';
import { tempWorkspace } from './fakes';

const dir = treeSitterDir();
const small = { targetLines: 8, minLines: 3, maxLines: 20 };

function requireParser(chunker: SyntaxChunker) {
  assert.ok(dir, 'tree-sitter not found: install @vscode/tree-sitter-wasm, or set ENCLAVE_TREE_SITTER_DIR to an unpacked copy');
  return chunker.available().then((ok) => assert.ok(ok, `the tree-sitter runtime in ${dir} did not load`));
}

/** The 0-based lines of `text` that match `pattern`. */
const linesMatching = (text: string, pattern: RegExp) => text.split('\n').flatMap((line, i) => (pattern.test(line) ? [i] : []));

/** Chunks in order, without overlap, each within the cap, each the text of its lines, every non-blank line in one. */
function assertTiles(chunks: Chunk[], text: string, maxLines: number) {
  const lines = text.split('\n');
  let covered = 0;
  for (const chunk of chunks) {
    assert.ok(chunk.startLine >= covered, `chunk at ${chunk.startLine} overlaps the one before (ends ${covered})`);
    assert.ok(
      lines.slice(covered, chunk.startLine).every((l) => !l.trim()),
      `lines ${covered}..${chunk.startLine} in no chunk`,
    );
    assert.ok(chunk.endLine - chunk.startLine <= maxLines, `chunk ${chunk.startLine}..${chunk.endLine} over ${maxLines} lines`);
    assert.equal(chunk.text, lines.slice(chunk.startLine, chunk.endLine).join('\n'));
    covered = chunk.endLine;
  }
  assert.ok(
    lines.slice(covered).every((l) => !l.trim()),
    'the end of the file is in a chunk',
  );
}

/** The chunk that holds lines from..to whole, or undefined when they are cut apart. */
const holding = (chunks: Chunk[], from: number, to: number) => chunks.find((c) => c.startLine <= from && to <= c.endLine);

const typescript = `import { readFile } from 'node:fs/promises';

/** The total of an order in cents. */
export function orderTotal(items: { cents: number; count: number }[]): number {
  let total = 0;
  for (const item of items) {
    total += item.cents * item.count;
  }
  return total;
}

export interface Order {
  id: string;
  items: { cents: number; count: number }[];
}

export class OrderBook {
  private readonly orders = new Map<string, Order>();

  add(order: Order): void {
    this.orders.set(order.id, order);
  }

  // The orders over a total, largest first.
  largerThan(cents: number): Order[] {
    return [...this.orders.values()]
      .filter((order) => orderTotal(order.items) > cents)
      .sort((a, b) => orderTotal(b.items) - orderTotal(a.items));
  }
}

export async function loadOrders(file: string): Promise<Order[]> {
  const text = await readFile(file, 'utf8');
  const parsed = JSON.parse(text) as Order[];
  return parsed.filter((order) => typeof order.id === 'string');
}
`;

test('TypeScript: chunks start at declarations (or the comment above one), and a function that fits is never cut', async () => {
  const chunker = new SyntaxChunker(small);
  await requireParser(chunker);
  const chunks = await chunker.chunk('src/orders.ts', typescript);
  assert.deepEqual(chunker.counts, { syntax: 1, lines: 0, failed: 0 });
  assertTiles(chunks, typescript, small.maxLines);
  const starts = new Set([0, ...linesMatching(typescript, /^(export |\/\*\*)|^ {2}(\/\/|add|largerThan)/)]);
  for (const chunk of chunks)
    assert.ok(starts.has(chunk.startLine), `chunk starts at line ${chunk.startLine}: ${chunk.text.split('\n')[0]}`);
  assert.ok(chunks.length >= 3, `cut into several chunks: ${chunks.length}`);
  const total = linesMatching(typescript, /^\/\*\* The total/)[0];
  assert.ok(holding(chunks, total, total + 8), 'orderTotal with its doc comment in one chunk');
  const load = linesMatching(typescript, /loadOrders/)[0];
  assert.ok(holding(chunks, load, load + 5), 'loadOrders in one chunk');
});

const python = `import json
from dataclasses import dataclass


@dataclass
class Invoice:
    number: str
    cents: int

    def tax(self, rate: float) -> int:
        return round(self.cents * rate)

    def render(self) -> str:
        lines = [f"Invoice {self.number}"]
        lines.append(f"Total: {self.cents / 100:.2f}")
        return "\\n".join(lines)


def load_invoices(path):
    """Reads invoices from a JSON file."""
    with open(path) as f:
        data = json.load(f)
    return [Invoice(**row) for row in data]


def total_cents(invoices):
    total = 0
    for invoice in invoices:
        total += invoice.cents
    return total
`;

test('Python: decorated classes and functions are units; each fits whole in its chunk', async () => {
  const chunker = new SyntaxChunker(small);
  await requireParser(chunker);
  const chunks = await chunker.chunk('billing/invoices.py', python);
  assertTiles(chunks, python, small.maxLines);
  const starts = new Set([0, ...linesMatching(python, /^(@|def |class )|^ {4}def /)]);
  for (const chunk of chunks)
    assert.ok(starts.has(chunk.startLine), `chunk starts at line ${chunk.startLine}: ${chunk.text.split('\n')[0]}`);
  const load = linesMatching(python, /^def load_invoices/)[0];
  assert.ok(holding(chunks, load, load + 5), 'load_invoices whole');
  const total = linesMatching(python, /^def total_cents/)[0];
  assert.ok(holding(chunks, total, total + 5), 'total_cents whole');
});

const go = `package ledger

import (
	"errors"
	"fmt"
)

// Entry is one line of the ledger.
type Entry struct {
	Account string
	Cents   int64
}

// Balance sums the entries of one account.
func Balance(entries []Entry, account string) int64 {
	var total int64
	for _, e := range entries {
		if e.Account == account {
			total += e.Cents
		}
	}
	return total
}

func (e Entry) String() string {
	return fmt.Sprintf("%s %d", e.Account, e.Cents)
}

var ErrEmpty = errors.New("empty ledger")
`;

test('Go: types, functions and methods start chunks; Balance is whole', async () => {
  const chunker = new SyntaxChunker(small);
  await requireParser(chunker);
  const chunks = await chunker.chunk('ledger/ledger.go', go);
  assertTiles(chunks, go, small.maxLines);
  const starts = new Set([0, ...linesMatching(go, /^(\/\/|type |func |var )/)]);
  for (const chunk of chunks)
    assert.ok(starts.has(chunk.startLine), `chunk starts at line ${chunk.startLine}: ${chunk.text.split('\n')[0]}`);
  const balance = linesMatching(go, /^\/\/ Balance/)[0];
  assert.ok(holding(chunks, balance, balance + 10), 'Balance with its comment in one chunk');
});

test('a template string at column 0 inside a function does not cut it (where lines alone would)', async () => {
  const chunker = new SyntaxChunker(small);
  await requireParser(chunker);
  const text = `export function report(db: Db, since: string) {
  const sql = \`
SELECT account, SUM(cents) AS total

FROM entries
WHERE day >= $1
GROUP BY account
\`;
  return db.query(sql, [since]);
}

export function other() {
  return 1;
}
${'export const padding = 0;\n'.repeat(20)}`;
  const chunks = await chunker.chunk('report.ts', text);
  assertTiles(chunks, text, small.maxLines);
  assert.ok(holding(chunks, 0, 10), `report() whole: ${chunks.map((c) => `${c.startLine}-${c.endLine}`).join(' ')}`);
  assert.ok(!holding(chunkLines(text, small), 0, 10), 'chunkLines cuts it at the blank line before FROM');
});

test('a function longer than a chunk is cut at its statements, each piece within the cap', async () => {
  const chunker = new SyntaxChunker(small);
  await requireParser(chunker);
  const body = Array.from({ length: 60 }, (_, i) => `  const step${i} = compute(${i});\n  if (step${i} > limit) return step${i};`).join(
    '\n',
  );
  const text = `export function huge(limit: number): number {\n${body}\n  return 0;\n}\n\nexport const after = 1;\n`;
  const chunks = await chunker.chunk('huge.ts', text);
  assertTiles(chunks, text, small.maxLines);
  const end = linesMatching(text, /^}/)[0];
  assert.ok(chunks.filter((c) => c.startLine <= end).length >= 6, `121 lines in chunks of at most 20: ${chunks.length}`);
  // Cuts fall between statements: never inside one (each statement here is one line, so any line start is one).
  for (const chunk of chunks.slice(1)) assert.match(text.split('\n')[chunk.startLine], /^( {2}(const|if|return)|export|$)/);
});

test('a file without a grammar, too large, parsed too slowly, or with no runtime at all is chunked by lines', async () => {
  const text = Array.from({ length: 200 }, (_, i) => (i % 30 === 29 ? '' : `line ${i} of the notes`)).join('\n');
  const chunker = new SyntaxChunker();
  await requireParser(chunker);
  assert.deepEqual(await chunker.chunk('notes/todo.txt', text), chunkLines(text));
  const tooLarge = new SyntaxChunker({ maxChars: 100 });
  assert.deepEqual(await tooLarge.chunk('src/orders.ts', typescript), chunkLines(typescript));
  assert.deepEqual(tooLarge.counts, { syntax: 0, lines: 1, failed: 0 });
  const long = typescript.repeat(20);
  const outOfTime = new SyntaxChunker({ timeoutMs: 0 });
  assert.deepEqual(await outOfTime.chunk('src/orders.ts', long), chunkLines(long), 'a parse past its time: by lines');
  assert.deepEqual(outOfTime.counts, { syntax: 0, lines: 1, failed: 1 });
  const noRuntime = new SyntaxChunker({}, join(__dirname, 'no-such-tree-sitter'));
  assert.equal(await noRuntime.available(), false);
  assert.deepEqual(await noRuntime.chunk('src/orders.ts', typescript), chunkLines(typescript));
  const none = new SyntaxChunker({}, undefined);
  assert.deepEqual(await none.chunk('src/orders.ts', typescript), chunkLines(typescript));
});

test('garbage, binary-looking and unbalanced files never throw, and every line still lands in a chunk', async () => {
  const chunker = new SyntaxChunker(small);
  await requireParser(chunker);
  const samples = [
    '}}}} ))) function ( { class class {\n'.repeat(40),
    'export function broken(a: number {\n  return a +;\n'.repeat(30),
    Array.from({ length: 500 }, (_, i) => String.fromCharCode((i * 7919) % 65_000)).join('') + '\n\0\0\n',
    'x'.repeat(10_000),
    '',
  ];
  for (const text of samples) {
    for (const path of ['a.ts', 'a.py', 'a.go', 'a.rs']) {
      const chunks = await chunker.chunk(path, text);
      assert.ok(Array.isArray(chunks));
      if (text.includes('\n') && !text.includes('\0'))
        assertTiles(
          chunks,
          text
            .split('\n')
            .map((l) => l.slice(0, 400))
            .join('\n'),
          small.maxLines,
        );
    }
  }
});

test("Enclave's own sources: chunks tile every file, within the cap; files longer than a chunk are parsed", async () => {
  const chunker = new SyntaxChunker();
  await requireParser(chunker);
  const folder = join(__dirname, '..', '..', 'src', 'codebase', 'index');
  const files = readdirSync(folder).filter((f) => f.endsWith('.ts'));
  let longer = 0;
  for (const file of files) {
    const text = readFileSync(join(folder, file), 'utf8');
    const chunks = await chunker.chunk(file, text);
    assertTiles(chunks, text, 80);
    if (text.split('\n').length > 80) longer++;
    else assert.deepEqual(chunks, chunkLines(text), `${file} fits in one chunk`);
  }
  assert.ok(longer >= 5);
  assert.deepEqual(
    chunker.counts,
    { syntax: longer, lines: files.length - longer, failed: 0 },
    'files longer than a chunk are parsed, the rest not',
  );
});

test('the index worker as bundled finds tree-sitter and chunks by syntax', async () => {
  const bundle = bundleIndexWorker();
  const root = tempWorkspace({ 'src/orders.ts': typescript.repeat(4), 'src/short.ts': typescript, 'notes.txt': 'to do\n' });
  const worker = new IndexWorkerClient(bundle.script);
  try {
    await worker.open({ key: 'k', root, file: join(tempWorkspace({}), 'k.json'), exclude: [], maxFiles: 10 });
    const built = await worker.build('k', true);
    assert.deepEqual([built.parser, built.parsed, built.parseFailed], [true, 1, 0]);
    assert.deepEqual((await worker.stats()).chunkedFiles, { syntax: 1, lines: 2, failed: 0 });
    assert.equal((await worker.query('largerThan orderTotal', 1))[0].hit.path, 'src/orders.ts');
  } finally {
    await worker.terminate();
    rmSync(bundle.dir, { recursive: true, force: true });
  }
});
