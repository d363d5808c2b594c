import type * as vscode from 'vscode';

import type { Config } from './config';
import type { Backend, EngineState } from './engine/protocol';
import type { Log } from './logChannel';
import type { RulesFor } from './rules';

/** What every feature's `registerX(...)` receives from the composition root. */
export interface EnclaveContext {
  readonly extension: vscode.ExtensionContext;
  readonly config: Config;
  readonly log: Log;
  /** The current backend (local engine or remote server); the local engine starts on first use. */
  backend(): Backend;
  /** Engine state of the current backend, following it when the backend changes; returns an unsubscribe. */
  onBackendState(listener: (state: EngineState) => void): () => void;
  /** The host prompts go to when they leave this machine (a remote backend), else undefined. */
  promptDestination(): string | undefined;
  readonly onDidChangePromptDestination: vscode.Event<string | undefined>;
  /** Whether the workspace is trusted (models/adapters from the workspace are only used then). */
  readonly trusted: () => boolean;
  /**
   * The project's rules files (AGENTS.md, …) of the workspace folder holding `uri` (default: the
   * first folder), cached; undefined when there are none, the setting is off or the workspace is
   * untrusted. Put `text` in the system prompt; name `files` to the user.
   */
  readonly rulesFor: RulesFor;
  /** Fires when the rules may have changed (a rules file, trust, the setting). */
  readonly onDidChangeRules: vscode.Event<void>;
}
