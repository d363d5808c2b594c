import * as vscode from 'vscode';

import type { Logger } from './logger';

export type { Logger } from './logger';

export type Component =
  | 'main'
  | 'engine'
  | 'completion'
  | 'chat'
  | 'review'
  | 'adapters'
  | 'models'
  | 'server'
  | 'nextEdit'
  | 'metrics'
  | 'rules'
  | 'inline-edit'
  | 'commit-message'
  | 'codebase';

/** Every component logs through one channel, each line prefixed with its component. */
export class Log implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;

  constructor() {
    this.channel = vscode.window.createOutputChannel('Enclave', { log: true });
  }

  for(component: Component): Logger {
    const prefix = `[${component}] `;
    const channel = this.channel;
    return {
      trace: (m) => channel.trace(prefix + m),
      debug: (m) => channel.debug(prefix + m),
      info: (m) => channel.info(prefix + m),
      warn: (m) => channel.warn(prefix + m),
      error: (m) => channel.error(typeof m === 'string' ? prefix + m : `${prefix}${m.stack ?? m.message}`),
    };
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
