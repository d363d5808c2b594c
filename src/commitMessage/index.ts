// "Enclave: Write Commit Message" (also a button in the Source Control title bar — the input box's
// own menu, scm/inputBox, is a proposed API): the staged change (unstaged when nothing is staged)
// described for the chat model with the repository's style, the answer streamed into the commit
// box. Cancel or an error puts the box back as it was.
import * as vscode from 'vscode';

import { registerGuardedCommand } from '../commands';
import type { EnclaveContext } from '../context';
import { openGitApi, ReviewSourceError, type GitApi, type GitRepository } from '../review/git';
import { fitRules, RULES_CONTEXT_SHARE } from '../rules/prompt';
import { cleanCommitMessage, commitMessages, describeChanges, detectCommitStyle } from './core';
import { readCommitChange, recentSubjects } from './git';

const MESSAGE_TOKENS = 256;

export function registerCommitMessage(ctx: EnclaveContext): vscode.Disposable {
  const log = ctx.log.for('commit-message');
  let running: AbortController | undefined;

  async function pickRepository(api: GitApi, from: unknown): Promise<GitRepository | undefined> {
    // The scm/title button passes the SourceControl it was clicked on.
    const rootUri = (from as { rootUri?: vscode.Uri } | undefined)?.rootUri;
    const fromButton = rootUri instanceof vscode.Uri ? api.getRepository(rootUri) : null;
    if (fromButton) return fromButton;
    const active = vscode.window.activeTextEditor?.document.uri;
    const fromEditor = active && api.getRepository(active);
    if (fromEditor) return fromEditor;
    if (api.repositories.length <= 1) return api.repositories[0];
    const picked = await vscode.window.showQuickPick(
      api.repositories.map((r) => ({ label: vscode.workspace.asRelativePath(r.rootUri, false) || r.rootUri.fsPath, repo: r })),
      { placeHolder: 'Write the commit message for which repository?' },
    );
    return picked?.repo;
  }

  async function write(from?: unknown): Promise<void> {
    let api: GitApi;
    try {
      api = await openGitApi();
    } catch (err) {
      if (!(err instanceof ReviewSourceError)) throw err;
      void vscode.window.showWarningMessage(
        'Enclave writes commit messages with the built-in Git extension: enable it (setting "git.enabled").',
      );
      return;
    }
    const repo = await pickRepository(api, from);
    if (!repo) {
      if (api.repositories.length === 0) void vscode.window.showWarningMessage('Enclave: no git repository is open in this window.');
      return;
    }
    const root = repo.rootUri.fsPath;
    const change = await readCommitChange(api.git.path, root);
    if (!change) {
      void vscode.window.showInformationMessage('Enclave: there is nothing to describe — no staged or unstaged changes.');
      return;
    }
    const style = detectCommitStyle(await recentSubjects(api.git.path, root));
    const contextSize = ctx.config.engine.contextSize;
    const backend = ctx.backend();
    const rules = await fitRules(await ctx.rulesFor(repo.rootUri), Math.floor(contextSize * RULES_CONTEXT_SHARE), (text) =>
      backend.countTokens(text),
    );
    const rulesTokens = rules ? await backend.countTokens(rules.text) : 0;
    // What the diff may take of the context: the rest holds the instructions, the rules and the answer (~3 characters a token).
    const budgetChars = Math.max(2000, (contextSize - MESSAGE_TOKENS - 700 - rulesTokens) * 3);
    const described = describeChanges(change.files, change.diffs, budgetChars);
    const messages = commitMessages({ style, changes: described.text, rules });

    running?.abort();
    const controller = new AbortController();
    running = controller;
    const before = repo.inputBox.value;
    log.info(
      `${change.scope}: ${change.files.length} files, ${described.pasted} pasted, ${described.summarised} summarised; style ${style.conventional ? 'conventional' : 'plain'}, ${style.language ?? 'language unknown'}${rules ? `; rules from ${rules.files.map((f) => f.path).join(', ')}` : ''}`,
    );
    try {
      const result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Enclave: writing the commit message (${change.scope} changes)`,
          cancellable: true,
        },
        (_progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          let answer = '';
          return backend.chat(
            { messages, maxTokens: MESSAGE_TOKENS, temperature: ctx.config.chat.temperature },
            {
              signal: controller.signal,
              onText: (chunk) => {
                answer += chunk;
                if (!controller.signal.aborted) repo.inputBox.value = cleanCommitMessage(answer);
              },
            },
          );
        },
      );
      if (controller.signal.aborted) {
        repo.inputBox.value = before;
        return;
      }
      const message = cleanCommitMessage(result.text);
      if (!message) {
        repo.inputBox.value = before;
        void vscode.window.showWarningMessage('Enclave: the model wrote an empty commit message; the box is unchanged. Try again.');
        return;
      }
      repo.inputBox.value = message;
      log.info(`message written: ${result.stats.generatedTokens} tokens in ${result.stats.totalMs.toFixed(0)} ms`);
    } catch (err) {
      repo.inputBox.value = before;
      if (controller.signal.aborted) return;
      throw err;
    } finally {
      if (running === controller) running = undefined;
    }
  }

  return vscode.Disposable.from(registerGuardedCommand(ctx.log, log, 'enclave.commitMessage', write), {
    dispose: () => running?.abort(),
  });
}
