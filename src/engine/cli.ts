// `enclave` command line (dist/cli.js): `enclave serve` loads a GGUF model and serves it as an
// OpenAI-compatible API on 127.0.0.1 with a bearer token.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import type { Logger } from '../logger';
import type { EngineSettings, SpeculativeMode } from './protocol';
import { EngineRuntime } from './runtime';
import { startServer } from './server';
import { errorMessage } from '../util';

const usage = `usage: enclave serve --model <file.gguf> [options]

Serves the model as an OpenAI-compatible API on 127.0.0.1 (GET /v1/models,
POST /v1/chat/completions, POST /v1/completions). Every request needs
"Authorization: Bearer <token>".

options:
  --model <file>         GGUF model (or $ENCLAVE_MODEL)
  --draft <file>         draft model for speculative decoding
  --port <n>             port (default 11435; 0 = any free port)
  --token-file <file>    read the bearer token from this file ("-": standard input);
                         or set $ENCLAVE_TOKEN; default: a random one, printed.
                         (Not --token: command lines are visible to every user in ps.)
  --max-active <n>       API requests generating at once (default 1)
  --max-queued <n>       requests waiting beyond those; more get HTTP 429 (default 16)
  --timeout <seconds>    longest a request may take, queueing included (default 120)
  --context <n>          context size per sequence (default 8192)
  --sequences <n>        KV sequences (default 4)
  --threads <n>          CPU threads (default: chosen from the cores)
  --gpu auto|cpu         (default auto)
  --speculative auto|draft|lookup|off   (default auto)`;

const stderrLogger: Logger = {
  trace() {},
  debug() {},
  info: (m) => console.error(m),
  warn: (m) => console.error(`warning: ${m}`),
  error: (m) => console.error(typeof m === 'string' ? `error: ${m}` : `error: ${m.message}`),
};

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      draft: { type: 'string' },
      port: { type: 'string', default: '11435' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'max-active': { type: 'string', default: '1' },
      'max-queued': { type: 'string', default: '16' },
      timeout: { type: 'string', default: '120' },
      context: { type: 'string', default: '8192' },
      sequences: { type: 'string', default: '4' },
      threads: { type: 'string', default: '0' },
      gpu: { type: 'string', default: 'auto' },
      speculative: { type: 'string', default: 'auto' },
    },
  });
  const modelPath = values.model ?? process.env.ENCLAVE_MODEL;
  if (!modelPath) {
    console.error(`enclave serve: --model is required.\n${usage}`);
    return 2;
  }
  const settings: EngineSettings = {
    modelPath: path.resolve(modelPath),
    draftModelPath: values.draft ? path.resolve(values.draft) : undefined,
    speculative: values.speculative as SpeculativeMode,
    contextSize: Number(values.context),
    sequences: Number(values.sequences),
    threads: Number(values.threads),
    batchSize: 512,
    gpu: values.gpu === 'cpu' ? 'cpu' : 'auto',
    adapters: [],
  };
  if (values.token !== undefined) {
    console.error(
      'enclave serve: --token would show the token to every user of this machine (ps). Use --token-file <file>, --token-file - (standard input) or $ENCLAVE_TOKEN.',
    );
    return 2;
  }
  let token: string;
  try {
    token = chooseToken(values['token-file'], process.env.ENCLAVE_TOKEN);
  } catch (err) {
    console.error(`enclave serve: ${errorMessage(err)}`);
    return 2;
  }
  const limits = {
    maxActive: Number(values['max-active']),
    maxQueued: Number(values['max-queued']),
    requestTimeoutMs: Number(values.timeout) * 1000,
  };
  if (
    !Number.isInteger(limits.maxActive) ||
    limits.maxActive < 1 ||
    !Number.isInteger(limits.maxQueued) ||
    limits.maxQueued < 0 ||
    !(limits.requestTimeoutMs > 0)
  ) {
    console.error('enclave serve: --max-active must be a whole number ≥ 1, --max-queued ≥ 0 and --timeout a positive number of seconds.');
    return 2;
  }
  const runtime = await EngineRuntime.load(settings, { logger: stderrLogger });
  const info = await runtime.info();
  const server = await startServer(runtime, {
    port: Number(values.port),
    token,
    modelName: info.modelName,
    logger: stderrLogger,
    ...limits,
  });
  console.log(`serving ${info.modelName} on ${server.url}`);
  if (generatedToken) console.log(`token: ${token}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await runtime.dispose();
  return 0;
}

let generatedToken = false;

/** The bearer token from a file (or stdin for "-"), else the environment, else a fresh random one. */
function chooseToken(file: string | undefined, fromEnv: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the token file: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`, { cause: err });
    }
    const token = text.trim();
    if (token.length < 16) throw new Error('the token (from --token-file) must be at least 16 characters.');
    return token;
  }
  if (fromEnv) return fromEnv;
  generatedToken = true;
  return randomBytes(24).toString('base64url');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serve(rest);
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return 0;
  }
  console.error(command ? `enclave: unknown command "${command}".\n${usage}` : usage);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`enclave: ${errorMessage(err)}`);
    process.exit(1);
  },
);
