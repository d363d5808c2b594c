// Enclave's settings as plain data, free of vscode: each setting's default and range (package.json's
// schema states the same values; a unit test holds the two together), which scope may set it, and
// the snapshot features read. config.ts is the thin vscode shell that feeds `readSnapshot` with
// `getConfiguration().inspect()`, so the decisions here — where a value came from, whether a
// workspace may set it, how far a number may go — are unit-tested without an editor.
import type { SpeculativeMode } from './engine/protocol';
import { NEXT_EDIT_FORMATS, type NextEditFormatSetting } from './nextEdit/formats';

interface NumberSpec {
  default: number;
  min: number;
  max: number;
  integer: boolean;
}

const int = (value: number, min: number, max: number): NumberSpec => ({ default: value, min, max, integer: true });

/** Every numeric setting with its default and the range code clamps to, whatever settings.json says. */
export const NUMBER_SETTINGS = {
  'engine.contextSize': int(8192, 512, 262_144),
  'engine.sequences': int(4, 2, 16),
  /** 0 = chosen from the machine's cores; never more than the machine has (see readSnapshot). */
  'engine.threads': int(0, 0, 1024),
  'engine.batchSize': int(512, 32, 8192),
  'completion.maxLines': int(8, 1, 200),
  'completion.maxTokens': int(64, 1, 4096),
  'completion.maxTimeMs': int(500, 50, 60_000),
  'completion.contextTokens': int(1536, 128, 131_072),
  /** -1 = adaptive (from measured latency). */
  'completion.debounceMs': int(-1, -1, 5_000),
  'chat.maxTokens': int(1024, 16, 131_072),
  'chat.temperature': { default: 0.2, min: 0, max: 2, integer: false },
  'review.maxTokens': int(768, 64, 131_072),
  'review.contextLines': int(5, 0, 200),
  'server.port': int(11435, 1, 65_535),
  /** The pause after an edit before a next-edit prediction is requested. */
  'nextEdit.debounceMs': int(350, 0, 5_000),
  /** The dashboard's line for completion latency p95. */
  'metrics.slo.completionP95Ms': int(500, 10, 60_000),
  /** Files the codebase index takes at most (a bigger workspace is indexed in part, with a notice). */
  'index.maxFiles': int(20_000, 100, 1_000_000),
} satisfies Record<string, NumberSpec>;

export type NumberSetting = keyof typeof NUMBER_SETTINGS;

/** The other settings' defaults (package.json states the same; the unit test checks it). */
export const OTHER_DEFAULTS = {
  'model.path': '',
  'model.chatPath': '',
  'model.nextEditPath': '',
  'model.draftPath': '',
  'engine.gpu': 'auto',
  'backend.kind': 'local',
  'backend.remoteUrl': '',
  'backend.remoteModel': '',
  'completion.enabled': true,
  'completion.languages': { '*': true, plaintext: false, markdown: false, scminput: false } as Record<string, boolean>,
  'completion.extraContext': true,
  'completion.speculative': 'auto',
  'adapters.folders': [] as string[],
  'server.enabled': false,
  'nextEdit.enabled': true,
  'nextEdit.format': 'auto',
  'metrics.enabled': true,
  'rules.enabled': true,
  'completion.definitions': true,
  'completion.warmOnOpen': true,
  'index.enabled': true,
  'index.chat': true,
  'index.completion': true,
  'index.syntaxChunks': true,
  'index.embeddingPath': '',
} as const;

/**
 * Settings a workspace's .vscode/settings.json must not choose on its own, trusted or not: where
 * prompts go and which files llama.cpp parses. A workspace value is used only after the user
 * confirmed that very value (the confirmation names the host or the file) and the answer is kept.
 */
export const SENSITIVE_SETTINGS: readonly string[] = [
  'model.path',
  'model.chatPath',
  'model.nextEditPath',
  'model.draftPath',
  'adapters.folders',
  'backend.kind',
  'backend.remoteUrl',
  'backend.remoteModel',
  'index.embeddingPath',
];

/**
 * Settings an untrusted workspace cannot set at all (package.json lists the same in
 * `restrictedConfigurations`; code enforces it too): machine resources and a listening socket.
 */
export const UNTRUSTED_IGNORED: readonly string[] = [
  ...SENSITIVE_SETTINGS,
  'engine.threads',
  'engine.contextSize',
  'engine.batchSize',
  'engine.sequences',
  'engine.gpu',
  'server.enabled',
  'server.port',
];

/** What `WorkspaceConfiguration.inspect(key)` returns, the parts read here. */
export interface Inspected {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export type SettingOrigin = 'default' | 'user' | 'workspace';

/** A workspace value of a sensitive setting that waits for the user's yes or no. */
export interface WorkspaceRequest {
  key: string;
  value: unknown;
}

export interface ReadOptions {
  trusted: boolean;
  /** The user's remembered answer for this workspace value: true, false, or undefined (not asked). */
  answer(key: string, value: unknown): boolean | undefined;
  /** CPU cores: `engine.threads` never goes above. */
  cores: number;
  env?: { ENCLAVE_MODEL?: string; ENCLAVE_DRAFT_MODEL?: string };
}

export interface ConfigSnapshot {
  modelPath: string;
  chatModelPath: string;
  /** A separate next-edit model ('' = next-edit runs on the completion model). */
  nextEditModelPath: string;
  draftModelPath: string;
  /** The codebase index's embedding model (a GGUF); empty = lexical search only. */
  embeddingModelPath: string;
  engine: { contextSize: number; sequences: number; threads: number; batchSize: number; gpu: 'auto' | 'cpu' };
  backend: { kind: 'local' | 'remote'; remoteUrl: string; remoteModel: string };
  completion: {
    enabled: boolean;
    /** Language id → enabled; `*` is the default for languages not listed. */
    languages: Record<string, boolean>;
    maxLines: number;
    maxTokens: number;
    maxTimeMs: number;
    contextTokens: number;
    extraContext: boolean;
    /** Milliseconds, or -1 for adaptive (derived from measured latency). */
    debounceMs: number;
    speculative: SpeculativeMode;
    /** Evaluate a file's prompt when it becomes active, before the first keystroke there. */
    warmOnOpen: boolean;
    /** Definitions of the names near the cursor (from the language server) in the prompt. */
    definitions: boolean;
  };
  /** Where the codebase index's hits go (the index itself is read by codebase/indexShell.ts). */
  index: { chat: boolean; completion: boolean };
  chat: { maxTokens: number; temperature: number };
  review: { maxTokens: number; contextLines: number };
  adapters: { folders: string[] };
  server: { enabled: boolean; port: number };
  /** The next-edit model's prompt format; 'auto' detects it from the model's name. */
  nextEdit: { enabled: boolean; debounceMs: number; format: NextEditFormatSetting };
  /** Local metrics (never sent anywhere): whether to record, and the dashboard's SLO line. */
  metrics: { enabled: boolean; completionP95Ms: number };
  /** Project rules files (AGENTS.md, …) in prompts; read only in a trusted workspace. */
  rules: { enabled: boolean };
  /** Where each value read came from (keys without `enclave.`). */
  origins: Record<string, SettingOrigin>;
  /** Workspace values of sensitive settings the user has not answered yet (not in effect). */
  pending: WorkspaceRequest[];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A number in its range; a non-number (`"hot"`, null) is the default. */
export function clampNumber(key: NumberSetting, value: unknown, cores = Infinity): number {
  const spec: NumberSpec = NUMBER_SETTINGS[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) return spec.default;
  const max = key === 'engine.threads' ? Math.min(spec.max, Math.max(1, Math.floor(cores))) : spec.max;
  const n = spec.integer ? Math.round(value) : value;
  return Math.min(max, Math.max(spec.min, n));
}

/**
 * The settings in effect, from each key's inspect() and the trust state:
 * - an untrusted workspace's values of UNTRUSTED_IGNORED keys are ignored;
 * - a workspace value of a SENSITIVE key is used only when the user said yes to that value; until
 *   asked it is listed in `pending` and the user's own value (or the default) is in effect;
 * - numbers are clamped to their range, values of the wrong type fall back to the default.
 */
export function readSnapshot(inspect: (key: string) => Inspected | undefined, options: ReadOptions): ConfigSnapshot {
  const origins: Record<string, SettingOrigin> = {};
  const pending: WorkspaceRequest[] = [];
  const read = (key: string, fallback: unknown): unknown => {
    const found = inspect(key) ?? {};
    const workspace = found.workspaceFolderValue ?? found.workspaceValue;
    if (workspace !== undefined && !sameValue(workspace, found.globalValue ?? fallback)) {
      const ignored = !options.trusted && UNTRUSTED_IGNORED.includes(key);
      const answer = SENSITIVE_SETTINGS.includes(key) ? options.answer(key, workspace) : true;
      if (!ignored && answer === true) {
        origins[key] = 'workspace';
        return workspace;
      }
      if (!ignored && answer === undefined) pending.push({ key, value: workspace });
    }
    if (found.globalValue !== undefined) {
      origins[key] = 'user';
      return found.globalValue;
    }
    origins[key] = 'default';
    return fallback;
  };
  const num = (key: NumberSetting) => clampNumber(key, read(key, NUMBER_SETTINGS[key].default), options.cores);
  const str = (key: keyof typeof OTHER_DEFAULTS) => {
    const value = read(key, OTHER_DEFAULTS[key]);
    return typeof value === 'string' ? value.trim() : (OTHER_DEFAULTS[key] as string);
  };
  const bool = (key: keyof typeof OTHER_DEFAULTS) => {
    const value = read(key, OTHER_DEFAULTS[key]);
    return typeof value === 'boolean' ? value : (OTHER_DEFAULTS[key] as boolean);
  };
  const oneOf = <T extends string>(key: keyof typeof OTHER_DEFAULTS, allowed: readonly T[]): T => {
    const value = str(key);
    return (allowed as readonly string[]).includes(value) ? (value as T) : (OTHER_DEFAULTS[key] as T);
  };
  const languages = read('completion.languages', OTHER_DEFAULTS['completion.languages']);
  const folders = read('adapters.folders', []);
  const env = options.env ?? {};
  return {
    modelPath: str('model.path') || env.ENCLAVE_MODEL || '',
    chatModelPath: str('model.chatPath'),
    nextEditModelPath: str('model.nextEditPath'),
    embeddingModelPath: str('index.embeddingPath'),
    draftModelPath: str('model.draftPath') || env.ENCLAVE_DRAFT_MODEL || '',
    engine: {
      contextSize: num('engine.contextSize'),
      sequences: num('engine.sequences'),
      threads: num('engine.threads'),
      batchSize: Math.min(num('engine.batchSize'), num('engine.contextSize')),
      gpu: oneOf('engine.gpu', ['auto', 'cpu']),
    },
    backend: {
      kind: oneOf('backend.kind', ['local', 'remote']),
      remoteUrl: str('backend.remoteUrl'),
      remoteModel: str('backend.remoteModel'),
    },
    completion: {
      enabled: bool('completion.enabled'),
      languages: isBooleanRecord(languages) ? languages : { ...OTHER_DEFAULTS['completion.languages'] },
      maxLines: num('completion.maxLines'),
      maxTokens: num('completion.maxTokens'),
      maxTimeMs: num('completion.maxTimeMs'),
      contextTokens: num('completion.contextTokens'),
      extraContext: bool('completion.extraContext'),
      debounceMs: num('completion.debounceMs'),
      speculative: oneOf('completion.speculative', ['auto', 'draft', 'lookup', 'off']),
      warmOnOpen: bool('completion.warmOnOpen'),
      definitions: bool('completion.definitions'),
    },
    index: { chat: bool('index.chat'), completion: bool('index.completion') },
    chat: { maxTokens: num('chat.maxTokens'), temperature: num('chat.temperature') },
    review: { maxTokens: num('review.maxTokens'), contextLines: num('review.contextLines') },
    adapters: { folders: Array.isArray(folders) ? folders.filter((f): f is string => typeof f === 'string' && f.trim() !== '') : [] },
    server: { enabled: bool('server.enabled'), port: num('server.port') },
    nextEdit: {
      enabled: bool('nextEdit.enabled'),
      debounceMs: num('nextEdit.debounceMs'),
      format: oneOf('nextEdit.format', NEXT_EDIT_FORMATS),
    },
    metrics: { enabled: bool('metrics.enabled'), completionP95Ms: num('metrics.slo.completionP95Ms') },
    rules: { enabled: bool('rules.enabled') },
    origins,
    pending,
  };
}

function isBooleanRecord(value: unknown): value is Record<string, boolean> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'boolean');
}
