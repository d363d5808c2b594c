// `enclave` command line (dist/cli.js): `enclave serve` loads a GGUF model and serves it as an
// OpenAI-compatible API on 127.0.0.1 with a bearer token.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import type { Logger } from '../logger';
import type { EngineSettings, SpeculativeMode } from './protocol';
import { EngineRuntime } from './runtime';
import { startServer } from './server';

const usage = `usage: enclave serve --model <file.gguf> [options]

Serves the model as an OpenAI-compatible API on 127.0.0.1 (GET /v1/models,
POST /v1/chat/completions, POST /v1/completions). Every request needs
"Authorization: Bearer <token>".

options:
  --model <file>         GGUF model (or $ENCLAVE_MODEL)
  --draft <file>         draft model for speculative decoding
  --port <n>             port (default 11435; 0 = any free port)
  --token <t>            bearer token (or $ENCLAVE_TOKEN; default: a random one, printed)
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
  const token = values.token ?? process.env.ENCLAVE_TOKEN ?? randomBytes(24).toString('base64url');
  const runtime = await EngineRuntime.load(settings, { logger: stderrLogger });
  const info = await runtime.info();
  const server = await startServer(runtime, { port: Number(values.port), token, modelName: info.modelName, logger: stderrLogger });
  console.log(`serving ${info.modelName} on ${server.url}`);
  if (!values.token && !process.env.ENCLAVE_TOKEN) console.log(`token: ${token}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await runtime.dispose();
  return 0;
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
    console.error(`enclave: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
