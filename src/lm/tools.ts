// Enclave's own language-model tool: read a text file of the workspace (read-only, inside the
// workspace only, capped). Declared in package.json (`languageModelTools`) with the same name.
import * as vscode from 'vscode';

import { MAX_TOOL_FILE_BYTES, readWorkspaceFile } from './workspaceFile';

export const READ_FILE_TOOL = 'enclave_readFile';
/** A read that takes longer (a stalled network drive) fails instead of holding the agent. */
const READ_TIMEOUT_MS = 10_000;

interface ReadFileInput {
  path: string;
}

export function registerReadFileTool(): vscode.Disposable {
  return vscode.lm.registerTool<ReadFileInput>(READ_FILE_TOOL, {
    prepareInvocation: (options) => ({ invocationMessage: `Reading ${String(options.input?.path ?? 'a file')}` }),
    async invoke(options, token) {
      if (token.isCancellationRequested) throw new vscode.CancellationError();
      const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
      const read = readWorkspaceFile(folders, options.input?.path);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let cancel: vscode.Disposable | undefined;
      const stopped = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Reading ${String(options.input?.path)} took longer than ${READ_TIMEOUT_MS / 1000} s.`)),
          READ_TIMEOUT_MS,
        );
        cancel = token.onCancellationRequested(() => reject(new vscode.CancellationError()));
      });
      try {
        const file = await Promise.race([read, stopped]);
        const note = file.truncated
          ? `\n[${file.path} is longer than ${MAX_TOOL_FILE_BYTES / 1024} KiB; only its beginning is shown.]`
          : '';
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(`${file.path}:\n${file.text}${note}`)]);
      } finally {
        clearTimeout(timer);
        cancel?.dispose();
      }
    },
  });
}
