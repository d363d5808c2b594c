import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ensureFixtures } from '../fixtures/generate';
import { spawnSync } from 'node:child_process';

import { DownloadError, downloadFile, isModelHostUrl, partialPath, validatorPath, type DownloadProgress } from '../../src/models/download';

interface Seen {
  range?: string;
  ifRange?: string;
  bytesSent: number;
}

/** A real HTTP server on 127.0.0.1 serving one file, with or without Range support, optionally slowly. */
class FileServer {
  readonly seen: Seen[] = [];
  ignoreRange = false;
  chunkDelayMs = 0;
  status = 200;
  etag: string | undefined = '"v1"';
  private server!: Server;
  url = '';

  constructor(public body: Buffer) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const ifRange = req.headers['if-range'] as string | undefined;
      const seen: Seen = { range: req.headers.range, ifRange, bytesSent: 0 };
      this.seen.push(seen);
      if (this.status !== 200) {
        res.writeHead(this.status).end();
        return;
      }
      let start = 0;
      const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      // If-Range: the range only while the file is still the version the client started with.
      if (match && !this.ignoreRange && (ifRange === undefined || ifRange === this.etag)) {
        start = Number(match[1]);
        if (start >= this.body.length) {
          res.writeHead(416, { 'Content-Range': `bytes */${this.body.length}` }).end();
          return;
        }
        res.writeHead(206, {
          'Content-Length': this.body.length - start,
          'Content-Range': `bytes ${start}-${this.body.length - 1}/${this.body.length}`,
          'Accept-Ranges': 'bytes',
          ...(this.etag ? { ETag: this.etag } : {}),
        });
      } else {
        res.writeHead(200, {
          'Content-Length': this.body.length,
          'Accept-Ranges': this.ignoreRange ? 'none' : 'bytes',
          ...(this.etag ? { ETag: this.etag } : {}),
        });
      }
      const chunk = 64 * 1024;
      let offset = start;
      const pump = () => {
        if (res.destroyed) return;
        if (offset >= this.body.length) {
          res.end();
          return;
        }
        const piece = this.body.subarray(offset, offset + chunk);
        offset += piece.length;
        seen.bytesSent += piece.length;
        const more = res.write(piece);
        const next = () => (this.chunkDelayMs > 0 ? setTimeout(pump, this.chunkDelayMs) : setImmediate(pump));
        if (more) next();
        else res.once('drain', next);
      };
      pump();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/model.gguf`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('downloadFile against a local HTTP server', () => {
  let server: FileServer;
  let body: Buffer;
  let sha: string;
  let dir: string;
  let n = 0;
  const freshDir = async () => mkdtemp(join(dir, `d${n++}-`));

  before(async () => {
    const fixtures = await ensureFixtures();
    body = await readFile(fixtures.draft);
    sha = createHash('sha256').update(body).digest('hex');
    server = new FileServer(body);
    await server.start();
    dir = await mkdtemp(join(tmpdir(), 'enclave-download-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads, reports progress up to the full size, verifies size and sha256, and renames into place', async () => {
    server.ignoreRange = false;
    server.chunkDelayMs = 0;
    const directory = await freshDir();
    const events: DownloadProgress[] = [];
    const result = await downloadFile({
      url: server.url,
      directory,
      fileName: 'draft.gguf',
      expectedSize: body.length,
      sha256: sha,
      onProgress: (p) => events.push(p),
      progressIntervalMs: 0,
    });
    assert.equal(result.path, join(directory, 'draft.gguf'));
    assert.equal(result.sha256, sha);
    assert.equal(result.resumedFrom, 0);
    assert.deepEqual(await readFile(result.path), body);
    assert.equal(existsSync(partialPath(directory, 'draft.gguf')), false);
    assert.ok(events.length > 2, `${events.length} progress events`);
    for (let i = 1; i < events.length; i++) assert.ok(events[i].receivedBytes >= events[i - 1].receivedBytes);
    assert.equal(events.at(-1)?.receivedBytes, body.length);
    assert.equal(events.at(-1)?.totalBytes, body.length);
  });

  it('cancels with an AbortSignal, keeps only the partial file, then resumes with a Range request for the rest', async () => {
    server.ignoreRange = false;
    server.chunkDelayMs = 5;
    const directory = await freshDir();
    const controller = new AbortController();
    await assert.rejects(
      downloadFile({
        url: server.url,
        directory,
        fileName: 'draft.gguf',
        expectedSize: body.length,
        sha256: sha,
        signal: controller.signal,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (p.receivedBytes >= 512 * 1024) controller.abort();
        },
      }),
      (error: unknown) => error instanceof DownloadError && error.code === 'CANCELLED',
    );
    assert.equal(existsSync(join(directory, 'draft.gguf')), false, 'nothing under the final name');
    const partialSize = (await stat(partialPath(directory, 'draft.gguf'))).size;
    assert.ok(partialSize >= 512 * 1024 && partialSize < body.length, `partial holds ${partialSize} of ${body.length}`);

    server.chunkDelayMs = 0;
    const before = server.seen.length;
    const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf', expectedSize: body.length, sha256: sha });
    const resumed = server.seen.slice(before);
    assert.equal(resumed.length, 1);
    assert.equal(resumed[0].range, `bytes=${partialSize}-`);
    assert.equal(resumed[0].ifRange, '"v1"', 'the resume names the version it started with');
    assert.equal(resumed[0].bytesSent, body.length - partialSize, 'only the rest was sent');
    assert.equal(result.resumedFrom, partialSize);
    assert.equal(result.sha256, sha);
    assert.deepEqual(await readFile(result.path), body);
    assert.deepEqual(await readdir(directory), ['draft.gguf'], 'no partial or validator file left behind');
  });

  it('restarts from zero when the file changed on the server since the partial was written (If-Range)', async () => {
    server.chunkDelayMs = 5;
    const directory = await freshDir();
    const controller = new AbortController();
    await assert.rejects(
      downloadFile({
        url: server.url,
        directory,
        fileName: 'draft.gguf',
        signal: controller.signal,
        progressIntervalMs: 0,
        onProgress: (p) => p.receivedBytes >= 256 * 1024 && controller.abort(),
      }),
      (error: unknown) => error instanceof DownloadError && error.code === 'CANCELLED',
    );
    server.chunkDelayMs = 0;
    const original = server.body;
    const changed = Buffer.from(original);
    changed[10] ^= 0xff;
    server.body = changed;
    server.etag = '"v2"';
    try {
      const before = server.seen.length;
      const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf' });
      assert.equal(server.seen[before].ifRange, '"v1"');
      assert.equal(server.seen[before].bytesSent, changed.length, 'the whole new version was sent');
      assert.equal(result.resumedFrom, 0);
      assert.equal(result.sha256, createHash('sha256').update(changed).digest('hex'));
      assert.deepEqual(await readFile(result.path), changed);
    } finally {
      server.body = original;
      server.etag = '"v1"';
    }
  });

  it('restarts from zero when the server ignores Range (a stale partial cannot corrupt the file)', async () => {
    server.ignoreRange = true;
    server.chunkDelayMs = 0;
    const directory = await freshDir();
    await writeFile(partialPath(directory, 'draft.gguf'), Buffer.alloc(100_000, 0xab));
    await writeFile(validatorPath(partialPath(directory, 'draft.gguf')), '"v1"');
    const before = server.seen.length;
    const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: sha });
    assert.equal(server.seen[before].range, 'bytes=100000-');
    assert.equal(server.seen[before].bytesSent, body.length);
    assert.equal(result.resumedFrom, 0);
    assert.equal(result.sha256, sha);
    assert.deepEqual(await readFile(result.path), body);
    server.ignoreRange = false;
  });

  it('a partial that is already complete finishes on the 416 answer without re-downloading', async () => {
    const directory = await freshDir();
    await writeFile(partialPath(directory, 'draft.gguf'), body);
    await writeFile(validatorPath(partialPath(directory, 'draft.gguf')), '"v1"');
    const before = server.seen.length;
    const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: sha });
    assert.equal(server.seen[before].bytesSent, 0);
    assert.equal(result.resumedFrom, body.length);
    assert.equal(result.sha256, sha);
  });

  it('refuses a checksum mismatch with a clear error and removes the partial', async () => {
    const directory = await freshDir();
    const wrong = 'f'.repeat(64);
    await assert.rejects(
      downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: wrong }),
      (error: unknown) =>
        error instanceof DownloadError &&
        error.code === 'CHECKSUM_MISMATCH' &&
        error.message.includes(sha) &&
        error.message.includes(wrong),
    );
    assert.equal(existsSync(join(directory, 'draft.gguf')), false);
    assert.equal(existsSync(partialPath(directory, 'draft.gguf')), false);
  });

  it('refuses a size mismatch and removes the partial', async () => {
    const directory = await freshDir();
    await assert.rejects(
      downloadFile({ url: server.url, directory, fileName: 'draft.gguf', expectedSize: body.length + 1 }),
      (error: unknown) => error instanceof DownloadError && error.code === 'SIZE_MISMATCH' && /expected/.test(error.message),
    );
    assert.equal(existsSync(join(directory, 'draft.gguf')), false);
    assert.equal(existsSync(partialPath(directory, 'draft.gguf')), false);
  });

  it('reports an HTTP error status and leaves nothing behind', async () => {
    const directory = await freshDir();
    server.status = 404;
    try {
      await assert.rejects(
        downloadFile({ url: server.url, directory, fileName: 'draft.gguf' }),
        (error: unknown) => error instanceof DownloadError && error.code === 'HTTP' && /404/.test(error.message),
      );
    } finally {
      server.status = 200;
    }
    assert.equal(existsSync(join(directory, 'draft.gguf')), false);
  });

  it('a verified file already in place is not fetched again', async () => {
    const directory = await freshDir();
    await writeFile(join(directory, 'draft.gguf'), body);
    const before = server.seen.length;
    const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: sha });
    assert.equal(result.alreadyPresent, true);
    assert.equal(server.seen.length, before);
  });

  it('resumes only with a validator: a partial without ETag/Last-Modified restarts from zero, with no Range', async () => {
    server.etag = undefined;
    server.chunkDelayMs = 5;
    const directory = await freshDir();
    const controller = new AbortController();
    try {
      await assert.rejects(
        downloadFile({
          url: server.url,
          directory,
          fileName: 'draft.gguf',
          signal: controller.signal,
          progressIntervalMs: 0,
          onProgress: (p) => p.receivedBytes >= 256 * 1024 && controller.abort(),
        }),
        (error: unknown) => error instanceof DownloadError && error.code === 'CANCELLED',
      );
      assert.ok((await stat(partialPath(directory, 'draft.gguf'))).size >= 256 * 1024);
      server.chunkDelayMs = 0;
      const before = server.seen.length;
      const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: sha });
      assert.equal(server.seen[before].range, undefined, 'no Range without a validator');
      assert.equal(server.seen[before].bytesSent, body.length);
      assert.equal(result.resumedFrom, 0);
      assert.deepEqual(await readFile(result.path), body);
    } finally {
      server.etag = '"v1"';
    }
  });

  it('two downloads of one file at once: one is refused as busy, the other completes; no lock is left', async () => {
    server.chunkDelayMs = 2;
    const directory = await freshDir();
    const start = () => downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: sha });
    const results = await Promise.allSettled([start(), start()]);
    server.chunkDelayMs = 0;
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(fulfilled.length, 1);
    assert.equal(rejected.length, 1);
    assert.ok(rejected[0].reason instanceof DownloadError && rejected[0].reason.code === 'BUSY', String(rejected[0].reason));
    assert.deepEqual(await readFile(join(directory, 'draft.gguf')), body);
    assert.deepEqual(await readdir(directory), ['draft.gguf']);
  });

  it('a lock left by a process that has exited is taken over', async () => {
    const directory = await freshDir();
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    await writeFile(`${partialPath(directory, 'draft.gguf')}.lock`, String(gone));
    const result = await downloadFile({ url: server.url, directory, fileName: 'draft.gguf', sha256: sha });
    assert.equal(result.sha256, sha);
  });

  it('a full disk is reported as a full disk (ENOSPC from the kernel), not as a network error', async () => {
    const directory = await freshDir();
    // /dev/full answers every write with ENOSPC: the partial file is made to be it.
    await symlink('/dev/full', partialPath(directory, 'draft.gguf'));
    await assert.rejects(
      downloadFile({ url: server.url, directory, fileName: 'draft.gguf' }),
      (error: unknown) => error instanceof DownloadError && error.code === 'DISK_FULL' && error.message.includes(directory),
    );
    assert.equal(existsSync(join(directory, 'draft.gguf')), false);
  });

  it('refuses a file far from the catalog size before writing it', async () => {
    const directory = await freshDir();
    await assert.rejects(
      downloadFile({ url: server.url, directory, fileName: 'draft.gguf', approximateSize: body.length * 4 }),
      (error: unknown) => error instanceof DownloadError && error.code === 'SIZE_MISMATCH',
    );
    assert.equal(existsSync(partialPath(directory, 'draft.gguf')), false);
    assert.equal(existsSync(join(directory, 'draft.gguf')), false);
    // Within the catalog's rounding it downloads.
    const result = await downloadFile({
      url: server.url,
      directory,
      fileName: 'draft.gguf',
      approximateSize: Math.round(body.length * 1.05),
    });
    assert.equal(result.sha256, sha);
  });

  describe("redirects and the hub's record of the file", () => {
    // A stand-in for huggingface.co/…/resolve/main/…: a 302 to the CDN with X-Linked-Etag / X-Linked-Size.
    let hub: Server;
    let hubUrl = '';
    let hubHeaders: Record<string, string> = {};
    let hubHits = 0;
    before(async () => {
      hub = createServer((_req, res) => {
        hubHits++;
        res.writeHead(302, hubHeaders).end();
      });
      await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
      hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}/Qwen/repo/resolve/main/draft.gguf`;
    });
    after(async () => {
      hub.closeAllConnections();
      await new Promise<void>((resolve) => hub.close(() => resolve()));
    });
    const loopbackOnly = (url: URL) => url.hostname === '127.0.0.1';

    it('the default policy follows https to Hugging Face hosts only', () => {
      for (const ok of [
        'https://huggingface.co/x',
        'https://cdn-lfs.huggingface.co/x',
        'https://cdn-lfs-us-1.hf.co/x',
        'https://cas-bridge.xethub.hf.co/x',
      ])
        assert.ok(isModelHostUrl(new URL(ok)), ok);
      for (const bad of [
        'http://cdn-lfs.huggingface.co/x',
        'https://evil.example/x',
        'https://huggingface.co.evil.example/x',
        'https://evilhuggingface.co/x',
        'https://u:p@huggingface.co/x',
        'ftp://huggingface.co/x',
      ]) {
        assert.ok(!isModelHostUrl(new URL(bad)), bad);
      }
    });

    it('a redirect to plain http or to another host is not followed: no request reaches it', async () => {
      for (const location of [server.url, 'https://evil.example/model.gguf']) {
        hubHeaders = { Location: location };
        const directory = await freshDir();
        const before = server.seen.length;
        await assert.rejects(
          downloadFile({ url: hubUrl, directory, fileName: 'draft.gguf' }),
          (error: unknown) => error instanceof DownloadError && error.code === 'REDIRECT',
          location,
        );
        assert.equal(server.seen.length, before, 'the redirect target saw no request');
        assert.equal(existsSync(partialPath(directory, 'draft.gguf')), false);
      }
    });

    it("verifies against the hub's X-Linked-Etag (sha256) and X-Linked-Size when no checksum is known", async () => {
      hubHeaders = { Location: server.url, 'X-Linked-Etag': `"${sha}"`, 'X-Linked-Size': String(body.length) };
      const directory = await freshDir();
      const result = await downloadFile({ url: hubUrl, directory, fileName: 'draft.gguf', allowRedirect: loopbackOnly });
      assert.equal(result.checksumSource, 'host');
      assert.equal(result.sha256, sha);
      assert.deepEqual(await readFile(result.path), body);
    });

    it("a CDN answer that does not match the hub's record is refused and removed", async () => {
      const hitsBefore = hubHits;
      for (const [headers, code] of [
        [{ 'X-Linked-Etag': `"${'0'.repeat(64)}"` }, 'CHECKSUM_MISMATCH'],
        [{ 'X-Linked-Size': String(body.length + 10) }, 'SIZE_MISMATCH'],
      ] as const) {
        hubHeaders = { Location: server.url, ...headers };
        const directory = await freshDir();
        await assert.rejects(
          downloadFile({ url: hubUrl, directory, fileName: 'draft.gguf', allowRedirect: loopbackOnly }),
          (error: unknown) => error instanceof DownloadError && error.code === code,
        );
        assert.deepEqual(await readdir(directory), []);
      }
      assert.equal(hubHits - hitsBefore, 2);
    });
  });
});
