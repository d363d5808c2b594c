// A stand-in OpenAI-compatible model server on 127.0.0.1 for e2e tests that script the model's
// answers: it listens on a free port, reads each request's body, and hands it to the test's
// `handle`. Enclave reaches it through its own remote backend (real HTTP, real SSE).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export abstract class LoopbackModel {
  private readonly server = createServer((req, res) => void this.receive(req, res));
  /** The base URL to configure as `enclave.backend.remoteUrl` (ends in /v1). */
  url = '';
  /** Streamed answers whose client hung up before the end. */
  aborted = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    await this.handle(req, res, body);
  }

  /**
   * Streams `pieces` as an OpenAI chat-completion SSE answer, `delayMs` apart, then the finish
   * chunk and [DONE]; stops (counted in `aborted`) when the client hangs up.
   */
  protected async streamAnswer(res: ServerResponse, pieces: readonly string[], delayMs: number, promptTokens: number): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true;
        this.aborted++;
      }
    });
    for (const content of pieces) {
      if (closed) return;
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`);
      await new Promise((r) => setTimeout(r, delayMs));
    }
    if (closed) return;
    const usage = { prompt_tokens: promptTokens, completion_tokens: pieces.length };
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  /** Answers one request whose whole body has been read. */
  protected abstract handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void>;
}
