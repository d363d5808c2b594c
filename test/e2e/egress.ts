/**
 * The egress recorder for the e2e tests: every connect() of a process tree, recorded by strace,
 * attributed to the process that made it and judged. A connection counts against Enclave when the
 * process that made it is, or descends from, the remote extension host (Enclave's activation,
 * completion, chat, review, models and in-editor API server all run there), Enclave's engine
 * worker (dist/worker.js) or Enclave's CLI (dist/cli.js). code-server's own processes (the server,
 * its file watcher, pty host, …) are attributed and reported, not counted against Enclave.
 * Loopback is fine: 127.0.0.0/8, ::1 (and ::ffff:127.x), 0.0.0.0 and :: (which Linux connects to
 * this host), AF_UNIX, AF_NETLINK (the kernel) and AF_UNSPEC (a UDP socket's disconnect).
 *
 *   const trace = join(dir, 'connect.strace');
 *   spawn(...straceCommand(trace), 'node', ['server.js']);   // or launch({ serverWrapper: straceCommand(trace) })
 *   const report = judgeTrace(readFileSync(trace, 'utf8'));
 *   assert.deepEqual(report.enclaveEgress, []);
 *   writeFileSync('egress-report.txt', formatReport(report));
 */
import { spawnSync } from 'node:child_process';

/** The command prefix that records connect() and the process tree (execve, clone/fork) into `traceFile`. */
export function straceCommand(traceFile: string): string[] {
  return [
    'strace',
    '-f', // follow every child process and thread
    '--seccomp-bpf', // stop only on the traced calls: code-server's other syscalls run at full speed
    '-qq', // no attach/exit chatter
    '-s',
    '1024', // whole argv strings: roles are read from them
    '-e',
    'trace=connect,execve,clone,clone3,fork,vfork',
    '-e',
    'signal=none',
    '-o',
    traceFile,
    '--',
  ];
}

/** Throws a clear error when strace is missing or may not trace here (e.g. ptrace forbidden in a container). */
export function checkRecorder(): void {
  const probe = spawnSync(
    'strace',
    ['-f', '--seccomp-bpf', '-qq', '-e', 'trace=connect', '-o', '/dev/null', '--', process.execPath, '-e', '0'],
    { encoding: 'utf8' },
  );
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `strace cannot record connect() here (${probe.error?.message ?? probe.stderr.trim()}): install it (node scripts/setup.mjs --e2e, as root) and allow ptrace.`,
    );
  }
}

export interface Connect {
  /** Thread that called connect(), and its process (thread-group leader). */
  tid: number;
  pid: number;
  family: string;
  /** The address as strace decoded it: an IP, a unix path, or the raw sockaddr for other families. */
  address: string;
  port?: number;
  /** The call's result, e.g. '0', '-1 EINPROGRESS', '-1 ENETUNREACH'. */
  result: string;
  /** Whether the address is this machine (see the module comment). */
  local: boolean;
  /** Role of the process, e.g. 'extension host', and the chain of roles up to the traced root. */
  role: string;
  chain: string[];
  /** The nearest Enclave or code-server role in the chain: who started it (e.g. 'extension host' for its git). */
  owner: string;
  /** True when the process is or descends from the extension host, the engine worker or the CLI. */
  enclave: boolean;
}

export interface ProcessInfo {
  pid: number;
  parent?: number;
  /** argv of the last successful execve; undefined when it only forked. */
  argv?: string[];
  role: string;
}

export interface EgressReport {
  processes: ProcessInfo[];
  connects: Connect[];
  /** Non-loopback connects counted against Enclave: the test fails on any. */
  enclaveEgress: Connect[];
  /** Non-loopback connects of other processes (code-server's own): reported only. */
  otherEgress: Connect[];
}

const enclaveRoles = new Set(['extension host', 'engine worker', 'enclave cli']);

/** Names a process by its argv (the same names the report uses). */
export function roleOf(argv: string[] | undefined): string {
  if (!argv) return 'forked';
  // Node's script: the first argument after the executable that is not an option. Matching the
  // script (not any argument) keeps `sh -c "node dist/worker.js"` from passing as the worker.
  const script = argv.slice(1).find((a) => !a.startsWith('-')) ?? '';
  const type = argv.find((a) => /^--type=\w+$/.test(a))?.slice('--type='.length);
  if (type === 'extensionHost') return 'extension host';
  if (/[/\\]dist[/\\]worker\.js$/.test(script)) return 'engine worker';
  if (/[/\\]dist[/\\]cli\.js$/.test(script)) return 'enclave cli';
  if (type) return `code-server ${type}`;
  if (/code-server[/\\]out[/\\]node[/\\]entry\.js$/.test(script)) return 'code-server';
  const exe = (argv[0] ?? '').split('/').pop() ?? '';
  if (/^node\d*$/.test(exe))
    return argv.some((a) => /^(-e|-p|--eval|--print)$/.test(a)) ? 'node -e' : `node ${script.split('/').pop() ?? ''}`.trim();
  return exe || 'unknown';
}

/** Whether a connect() address is this machine. */
export function isLocal(family: string, address: string): boolean {
  if (family === 'AF_UNIX' || family === 'AF_UNSPEC' || family === 'AF_NETLINK') return true;
  if (family === 'AF_INET') return /^127\./.test(address) || address === '0.0.0.0';
  if (family === 'AF_INET6') {
    const a = address.toLowerCase();
    return a === '::1' || a === '::' || /^::ffff:127\./.test(a) || a === '::ffff:0.0.0.0';
  }
  return false;
}

/** Parses one strace string list: ["a", "b\"c"] → ['a', 'b"c']. */
function parseArgv(list: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"(\.\.\.)?/g;
  for (let m = re.exec(list); m; m = re.exec(list)) out.push(m[1].replace(/\\(.)/g, '$1'));
  return out;
}

/** Joins strace's `<unfinished ...>` / `<... name resumed>` halves into one line per call. */
function wholeCalls(text: string): Array<{ tid: number; call: string }> {
  const pending = new Map<number, string>();
  const calls: Array<{ tid: number; call: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const tid = Number(m[1]);
    let call = m[2];
    if (call.startsWith('+++') || call.startsWith('---')) continue;
    const unfinished = /^(.*?)\s*<unfinished \.\.\.>$/.exec(call);
    if (unfinished) {
      pending.set(tid, unfinished[1]);
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>\s?(.*)$/.exec(call);
    if (resumed) {
      call = (pending.get(tid) ?? '') + resumed[1];
      pending.delete(tid);
    }
    calls.push({ tid, call });
  }
  return calls;
}

function decodeAddress(call: string): { family: string; address: string; port?: number } {
  const family = /sa_family=(\w+)/.exec(call)?.[1] ?? 'unknown';
  const port = /sin6?_port=htons\((\d+)\)/.exec(call)?.[1];
  let address: string;
  if (family === 'AF_INET') address = /inet_addr\("([^"]+)"\)/.exec(call)?.[1] ?? '';
  else if (family === 'AF_INET6') address = /inet_pton\(AF_INET6, "([^"]+)"/.exec(call)?.[1] ?? '';
  else if (family === 'AF_UNIX') address = /sun_path=(@?"(?:[^"\\]|\\.)*")/.exec(call)?.[1] ?? '';
  else address = /\{sa_family=[^}]*\}/.exec(call)?.[0] ?? call;
  return { family, address, port: port === undefined ? undefined : Number(port) };
}

/** Reads a trace written through straceCommand() and judges every connect() in it. */
export function judgeTrace(text: string): EgressReport {
  const calls = wholeCalls(text);
  // Pass 1: the process tree. A clone with CLONE_THREAD makes a thread of the caller's process;
  // any other clone/fork/vfork makes a child process.
  const leaderOf = new Map<number, number>();
  const parentOf = new Map<number, number>();
  for (const { tid, call } of calls) {
    const m = /^(clone3?|v?fork)\((.*)\)\s+=\s+(\d+)$/.exec(call) ?? /^(clone3?|v?fork)\((.*)=\s+(\d+)$/.exec(call);
    if (!m) continue;
    const child = Number(m[3]);
    if (/CLONE_THREAD/.test(m[2])) leaderOf.set(child, tid);
    else parentOf.set(child, tid);
  }
  const pidOf = (tid: number): number => {
    let t = tid;
    for (let guard = 0; leaderOf.has(t) && guard < 1000; guard++) t = leaderOf.get(t)!;
    return t;
  };
  // Pass 2, in order: execve sets a process's argv (roles can change over time); connects are
  // attributed with the argv each process had at that moment.
  const argvOf = new Map<number, string[]>();
  const seen = new Map<number, ProcessInfo>();
  const chainOf = (pid: number): string[] => {
    const chain: string[] = [];
    for (
      let p: number | undefined = pid, guard = 0;
      p !== undefined && guard < 100;
      p = parentOf.has(p) ? pidOf(parentOf.get(p)!) : undefined, guard++
    ) {
      chain.push(roleOf(argvOf.get(p)));
    }
    return chain;
  };
  const note = (pid: number) => {
    const parent = parentOf.has(pid) ? pidOf(parentOf.get(pid)!) : undefined;
    seen.set(pid, { pid, parent, argv: argvOf.get(pid), role: roleOf(argvOf.get(pid)) });
  };
  const connects: Connect[] = [];
  for (const { tid, call } of calls) {
    const pid = pidOf(tid);
    const exec = /^execve\("[^"]*", \[(.*)\], .*\)\s+=\s+0$/.exec(call);
    if (exec) {
      argvOf.set(pid, parseArgv(exec[1]));
      note(pid);
      continue;
    }
    if (!call.startsWith('connect(')) continue;
    if (!seen.has(pid)) note(pid);
    const { family, address, port } = decodeAddress(call);
    const result = /\)\s+=\s+(.*)$/.exec(call)?.[1]?.replace(/\s*\(.*\)$/, '') ?? '?';
    const chain = chainOf(pid);
    // A forked child without its own execve keeps its parent's role.
    const role = chain.find((r) => r !== 'forked') ?? 'forked';
    const owner = chain.find((r) => enclaveRoles.has(r) || r.startsWith('code-server')) ?? role;
    connects.push({
      tid,
      pid,
      family,
      address,
      port,
      result,
      local: isLocal(family, address),
      role,
      chain,
      owner,
      enclave: chain.some((r) => enclaveRoles.has(r)),
    });
  }
  const egress = connects.filter((c) => !c.local);
  return {
    processes: [...seen.values()],
    connects,
    enclaveEgress: egress.filter((c) => c.enclave),
    otherEgress: egress.filter((c) => !c.enclave),
  };
}

function describe(c: Connect): string {
  const where = c.port === undefined ? c.address : c.family === 'AF_INET6' ? `[${c.address}]:${c.port}` : `${c.address}:${c.port}`;
  return `${c.family} ${where} → ${c.result} by pid ${c.pid} (${c.chain.join(' ← ')})`;
}

/** A readable report: processes by role, connects by role and kind, and every non-loopback one. */
export function formatReport(report: EgressReport): string {
  const lines: string[] = [];
  const byRole = new Map<string, number>();
  for (const p of report.processes) byRole.set(p.role, (byRole.get(p.role) ?? 0) + 1);
  lines.push(`processes: ${[...byRole].map(([r, n]) => `${r} ×${n}`).join(', ')}`);
  const counts = new Map<string, number>();
  for (const c of report.connects) {
    const key = `${c.owner}${c.role === c.owner ? '' : ` (${c.role})`}: ${c.local ? 'local' : 'NON-LOOPBACK'} ${c.family}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  lines.push(`connect() calls: ${report.connects.length}, by the process tree they came from:`);
  for (const [key, n] of [...counts].sort()) lines.push(`  ${key}: ${n}`);
  lines.push(`non-loopback by Enclave (extension host, engine worker, CLI): ${report.enclaveEgress.length}`);
  for (const c of report.enclaveEgress) lines.push(`  ${describe(c)}`);
  lines.push(`non-loopback by code-server's own processes (reported, not counted): ${report.otherEgress.length}`);
  for (const c of report.otherEgress) lines.push(`  ${describe(c)}`);
  return lines.join('\n');
}
