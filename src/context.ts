import type * as vscode from 'vscode';

import type { Config } from './config';
import type { Backend } from './engine/protocol';
import type { Log } from './log';

/** What every feature's `registerX(...)` receives from the composition root. */
export interface EnclaveContext {
  readonly extension: vscode.ExtensionContext;
  readonly config: Config;
  readonly log: Log;
  /** The current backend (local engine or remote server); the local engine starts on first use. */
  backend(): Backend;
  /** Whether the workspace is trusted (models/adapters from the workspace are only used then). */
  readonly trusted: () => boolean;
}
