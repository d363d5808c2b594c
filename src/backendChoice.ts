// Which backend Enclave runs and with what, decided from a settings snapshot and the trust state
// alone (no vscode, no processes): backend.ts applies the result. Unit-tested in
// test/unit/backend-choice.test.ts.
import * as os from 'node:os';
import * as path from 'node:path';

import type { EngineSettings } from './engine/protocol';
import { separateModel } from './engine/routing';
import { insideAny } from './paths';
import type { ConfigSnapshot } from './settings';

export interface TrustState {
  trusted: boolean;
  /** The workspace folders' paths (relative model paths resolve against the first, when trusted). */
  workspaceFolders: readonly string[];
  cores: number;
  home?: string;
}

export interface BackendChoice {
  kind: 'local' | 'remote';
  /** The local engines' settings (kept even while remote, for when the backend is local again). */
  local: {
    /** The completion engine's settings (adapters are the adapters feature's business: always []). */
    completion: EngineSettings;
    /** A separate chat model ('' when chat uses the completion model). */
    chatModelPath: string;
    /** A separate next-edit model ('' when next-edit runs on the completion model). */
    nextEditModelPath: string;
  };
  /** The server when kind is remote; url '' when the configured one was refused (see problems). */
  remote?: { url: string; model: string };
  /** Why a configured value of the chosen kind is not used, each telling the user what to do. */
  problems: string[];
}

/** Host names that are this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * A remote URL Enclave may send prompts to: https anywhere, plain http only to this machine (code,
 * prompts and the API key would cross the network in clear text). Returns a problem sentence, or
 * undefined when the URL is acceptable (an empty or unparsable URL is the remote backend's to
 * explain).
 */
export function remoteUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname)) {
    return `enclave.backend.remoteUrl ${parsed.origin} is plain http to another machine: your code and the API key would cross the network unencrypted. Use https://, or reach the server through an SSH tunnel on 127.0.0.1.`;
  }
  return undefined;
}

/** Where prompts go when they leave this machine (the remote server's origin), else undefined. */
export function promptDestination(choice: BackendChoice): string | undefined {
  if (choice.kind !== 'remote' || !choice.remote?.url) return undefined;
  try {
    const parsed = new URL(choice.remote.url);
    return isLoopbackHost(parsed.hostname) ? undefined : parsed.host;
  } catch {
    return undefined;
  }
}

/**
 * A model file as the engine should open it, or '' with a problem: `~` is the home folder; a
 * relative path resolves against the workspace folder only in a trusted workspace (never against
 * the extension host's working directory); a file inside an untrusted workspace is refused.
 */
export function resolveModelFile(setting: string, value: string, trust: TrustState, problems: string[]): string {
  if (!value) return '';
  let file = value;
  if (file === '~' || file.startsWith('~/') || file.startsWith('~\\')) file = path.join(trust.home ?? os.homedir(), file.slice(1));
  if (!path.isAbsolute(file)) {
    const folder = trust.workspaceFolders[0];
    if (!trust.trusted || !folder) {
      problems.push(
        `enclave.${setting} "${value}" is a relative path, and there is no trusted workspace folder to resolve it against. Use an absolute path.`,
      );
      return '';
    }
    file = path.resolve(folder, file);
  }
  file = path.normalize(file);
  if (!trust.trusted && insideAny(trust.workspaceFolders, file)) {
    problems.push(
      `enclave.${setting} ${file} is inside this untrusted workspace: Enclave does not load models from it. Trust the workspace, or choose a file outside it.`,
    );
    return '';
  }
  return file;
}

/** Leave a core for the editor; llama.cpp's default (max(cores, 4)) is 100× slower on 2 cores. */
export function defaultThreads(cores: number): number {
  return Math.max(1, Math.min(8, cores - 1));
}

/** What the configuration asks for, as settings the backend host applies. Pure. */
export function engineSettings(config: ConfigSnapshot, trust: TrustState): BackendChoice {
  const localProblems: string[] = [];
  const modelPath = resolveModelFile('model.path', config.modelPath, trust, localProblems);
  const draft = resolveModelFile('model.draftPath', config.draftModelPath, trust, localProblems);
  const chat = resolveModelFile('model.chatPath', config.chatModelPath, trust, localProblems);
  const nextEdit = resolveModelFile('model.nextEditPath', config.nextEditModelPath, trust, localProblems);
  const engine = config.engine;
  const cores = Math.max(1, trust.cores);
  const local = {
    completion: {
      modelPath,
      draftModelPath: draft || undefined,
      speculative: config.completion.speculative,
      contextSize: engine.contextSize,
      sequences: engine.sequences,
      threads: Math.min(engine.threads || defaultThreads(cores), cores),
      batchSize: Math.min(engine.batchSize, engine.contextSize),
      gpu: engine.gpu,
      adapters: [],
    },
    chatModelPath: separateModel(chat, modelPath),
    nextEditModelPath: separateModel(nextEdit, modelPath),
  };
  if (config.backend.kind !== 'remote') return { kind: 'local', local, problems: localProblems };
  const problem = remoteUrlProblem(config.backend.remoteUrl);
  return {
    kind: 'remote',
    local,
    remote: { url: problem ? '' : config.backend.remoteUrl, model: config.backend.remoteModel },
    problems: problem ? [problem] : [],
  };
}
