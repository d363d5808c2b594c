// `enclave` command line (dist/cli.js). `serve` — the OpenAI-compatible endpoint — is not built yet.
const usage = `usage: enclave serve --model <file.gguf> [--port 11435]

  serve   serve a local GGUF model as an OpenAI-compatible API on 127.0.0.1 (not available yet)`;

function main(argv: string[]): number {
  const [command] = argv;
  if (command === '--help' || command === '-h' || command === undefined) {
    console.log(usage);
    return command === undefined ? 2 : 0;
  }
  console.error(`enclave: "${command}" is not available in this version.\n${usage}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
