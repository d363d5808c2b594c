import type * as vscode from 'vscode';

import type { Config } from './config';
import type { Backend, EngineState } from './engine/protocol';
import type { Log } from './logChannel';

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
}
