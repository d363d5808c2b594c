// Stable and experimental model profiles, kept in one JSON file in the extension's global storage.
// Switching is one call, rolling back is one call; what the engine should load follows from the
// active profile. No vscode: the shell passes the file path and applies the resulting paths.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type ModelRole = 'completion' | 'chat' | 'nextEdit' | 'draft';
export type ProfileName = 'stable' | 'experimental';
export const modelRoles: readonly ModelRole[] = ['completion', 'chat', 'nextEdit', 'draft'];

export interface ModelRecord {
  path: string;
  name: string;
  /** sha256 of the file as computed when it was added (undefined when not hashed yet). */
  sha256?: string;
  /** Where it came from: `hf:…`, an https URL, `ollama:qwen2.5-coder:7b`, `local file`. */
  source: string;
  /** ISO date the model was added to the profile. */
  addedAt: string;
}

export type Profile = Partial<Record<ModelRole, ModelRecord>>;

export interface ProfilesState {
  version: 1;
  active: ProfileName;
  profiles: Record<ProfileName, Profile>;
  /** The stable profile before it was last replaced, so a rollback on stable can go one step back. */
  previousStable?: Profile;
}

export function emptyState(): ProfilesState {
  return { version: 1, active: 'stable', profiles: { stable: {}, experimental: {} } };
}

/** The settings the active profile implies: `model.path`, `model.chatPath`, `model.nextEditPath`, `model.draftPath` (empty = unset). */
export function settingsFor(profile: Profile): {
  'model.path': string;
  'model.chatPath': string;
  'model.nextEditPath': string;
  'model.draftPath': string;
} {
  return {
    'model.path': profile.completion?.path ?? '',
    'model.chatPath': profile.chat?.path ?? '',
    'model.nextEditPath': profile.nextEdit?.path ?? '',
    'model.draftPath': profile.draft?.path ?? '',
  };
}

export function describeRecord(role: ModelRole, record: ModelRecord | undefined): string {
  if (!record) return `${role}: none`;
  const hash = record.sha256 ? `sha256 ${record.sha256.slice(0, 12)}…` : 'not hashed';
  return `${role}: ${record.name} (${hash}, from ${record.source}, added ${record.addedAt.slice(0, 10)}) ${record.path}`;
}

function isProfile(value: unknown): value is Profile {
  if (!value || typeof value !== 'object') return false;
  return Object.entries(value).every(
    ([role, record]) =>
      modelRoles.includes(role as ModelRole) &&
      record !== null &&
      typeof record === 'object' &&
      typeof (record as ModelRecord).path === 'string' &&
      typeof (record as ModelRecord).name === 'string',
  );
}

function parseState(text: string): ProfilesState {
  const raw = JSON.parse(text) as Partial<ProfilesState>;
  const state = emptyState();
  if (raw.active === 'experimental') state.active = 'experimental';
  if (isProfile(raw.profiles?.stable)) state.profiles.stable = raw.profiles.stable;
  if (isProfile(raw.profiles?.experimental)) state.profiles.experimental = raw.profiles.experimental;
  if (isProfile(raw.previousStable)) state.previousStable = raw.previousStable;
  return state;
}

export class ProfileStore {
  constructor(private readonly file: string) {}

  async load(): Promise<ProfilesState> {
    try {
      return parseState(await readFile(this.file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      if (error instanceof SyntaxError) return emptyState();
      throw error;
    }
  }

  /** Written to a temporary file and renamed, so a crash never leaves half a JSON file. */
  private async save(state: ProfilesState): Promise<ProfilesState> {
    await mkdir(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(temp, this.file);
    return state;
  }

  async active(): Promise<{ name: ProfileName; profile: Profile }> {
    const state = await this.load();
    return { name: state.active, profile: state.profiles[state.active] };
  }

  /** Puts a model into a profile's role (the previous stable profile is remembered for rollback). */
  async setModel(profile: ProfileName, role: ModelRole, record: ModelRecord | undefined): Promise<ProfilesState> {
    const state = await this.load();
    if (profile === 'stable') state.previousStable = { ...state.profiles.stable };
    const next = { ...state.profiles[profile] };
    if (record) next[role] = record;
    else delete next[role];
    state.profiles[profile] = next;
    return this.save(state);
  }

  async switchTo(profile: ProfileName): Promise<ProfilesState> {
    const state = await this.load();
    state.active = profile;
    return this.save(state);
  }

  async toggle(): Promise<ProfilesState> {
    const state = await this.load();
    return this.switchTo(state.active === 'stable' ? 'experimental' : 'stable');
  }

  /**
   * One step back: from experimental to stable; on stable, to the stable profile as it was before
   * its last change (that one becomes the experimental profile, so nothing is lost).
   */
  async rollback(): Promise<ProfilesState> {
    const state = await this.load();
    if (state.active === 'experimental') {
      state.active = 'stable';
      return this.save(state);
    }
    if (!state.previousStable) return state;
    state.profiles.experimental = state.profiles.stable;
    state.profiles.stable = state.previousStable;
    delete state.previousStable;
    return this.save(state);
  }

  /** The experimental profile becomes the stable one (the old stable one can be rolled back to). */
  async promote(): Promise<ProfilesState> {
    const state = await this.load();
    state.previousStable = state.profiles.stable;
    state.profiles.stable = { ...state.profiles.experimental };
    state.active = 'stable';
    return this.save(state);
  }
}
