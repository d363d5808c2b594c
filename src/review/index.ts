// The review feature: commands that pick what to review (git changes, a branch, the file, the
// selection), run the reviewer with a cancellable progress notification, and show the findings.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { Backend } from '../engine/protocol';
import { documentTarget, GitSource, ReviewSourceError, type ReviewTarget } from './git';
import { ReviewPresentation } from './presentation';
import { renderReport } from './report';
import { runReview, type ReviewOptions, type ReviewResult } from './reviewer';
import { errorMessage } from '../util';

type Handler = () => Promise<void> | void;

/**
 * ENCLAVE_REVIEW_SCHEMA_LIMITS (JSON, e.g. {"minFindings":1,"maxMessageChars":48}) narrows the
 * answer's schema. For tests and benchmarks on random-weight models, which otherwise answer an
 * empty list or fill every string to its limit; users have no reason to set it.
 */
function schemaLimitsFromEnv(): ReviewOptions['schemaLimits'] {
  const raw = process.env.ENCLAVE_REVIEW_SCHEMA_LIMITS;
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    const limits: Record<string, number> = {};
    for (const key of ['maxFindings', 'minFindings', 'maxMessageChars', 'maxReplacementChars']) {
      if (typeof parsed[key] === 'number' && Number.isInteger(parsed[key]) && (parsed[key] as number) >= 0)
        limits[key] = parsed[key] as number;
    }
    return limits;
  } catch {
    return undefined;
  }
}

export function registerReview(ctx: EnclaveContext): vscode.Disposable {
  const log = ctx.log.for('review');
  const presentation = new ReviewPresentation();
  let last: { result: ReviewResult; report: string } | undefined;
  let running: { controller: AbortController; done: Promise<void> } | undefined;

  const git = async () => GitSource.open(log);
  const changes = async (scope: 'uncommitted' | 'staged') => {
    const source = await git();
    return source.changes(await source.repository(), scope);
  };

  async function review(source: () => Promise<ReviewTarget | undefined>): Promise<void> {
    let target: ReviewTarget | undefined;
    try {
      target = await source();
    } catch (err) {
      if (err instanceof vscode.CancellationError) return;
      if (err instanceof ReviewSourceError) {
        void vscode.window.showWarningMessage(err.message);
        return;
      }
      throw err;
    }
    if (!target) return;
    if (target.input.files.length === 0) {
      void vscode.window.showInformationMessage(`Enclave: nothing to review in ${target.input.title}.`);
      return;
    }
    let backend: Backend;
    try {
      backend = ctx.backend();
    } catch (err) {
      const message = errorMessage(err);
      void vscode.window
        .showErrorMessage(`Enclave review needs the model engine: ${message}`, 'Show Log')
        .then((choice) => choice && ctx.log.show());
      return;
    }

    // One review at a time: a new one replaces the one running.
    if (running) {
      running.controller.abort();
      await running.done;
    }
    const controller = new AbortController();
    let finish!: () => void;
    running = { controller, done: new Promise<void>((resolve) => (finish = resolve)) };
    presentation.clear();
    last = undefined;
    const { root, input } = target;
    const rules = await ctx.rulesFor(root);
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Enclave: reviewing ${input.title}`, cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          let reported = 0;
          return runReview(backend, input, {
            maxTokens: ctx.config.review.maxTokens,
            contextLines: ctx.config.review.contextLines,
            signal: controller.signal,
            logger: log,
            schemaLimits: schemaLimitsFromEnv(),
            rules,
            onProgress: (p) => {
              const done = ((p.fileIndex + p.request / p.requestCount) / p.fileCount) * 100;
              progress.report({ message: `${p.file} (${p.fileIndex + 1} of ${p.fileCount})`, increment: done - reported });
              reported = done;
            },
            onFileReviewed: (_path, findings) => presentation.add(root, findings),
          });
        },
      );
      last = { result, report: renderReport(result, { generatedAt: new Date() }) };
      for (const f of result.findings)
        log.info(`finding ${f.file}:${f.startLine}-${f.endLine} ${f.severity} ${f.category}${f.replacement !== null ? ' (fix)' : ''}`);
      log.info(
        `review done: ${input.title}: ${result.findings.length} findings (${result.counts.error} errors, ${result.counts.warning} warnings, ${result.counts.info} info), ` +
          `reviewed ${result.reviewed.length}, skipped ${result.skipped.length}, failed ${result.failed.length}, ${result.cancelled ? 'cancelled, ' : ''}` +
          `${result.requests} requests, ${result.durationMs.toFixed(0)} ms, ${result.tokensPerSecond.toFixed(1)} tokens/s generated, ${result.promptTokensPerSecond.toFixed(0)} tokens/s read`,
      );
      void summarize(result);
    } catch (err) {
      const message = errorMessage(err);
      log.error(err instanceof Error ? err : message);
      void vscode.window.showErrorMessage(`Enclave review failed: ${message}`, 'Show Log').then((choice) => choice && ctx.log.show());
    } finally {
      if (running?.controller === controller) running = undefined;
      finish();
    }
  }

  async function summarize(result: ReviewResult): Promise<void> {
    const { counts } = result;
    const parts = [
      `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'} (${counts.error} errors, ${counts.warning} warnings, ${counts.info} info)`,
      `${result.reviewed.length} files reviewed`,
      result.skipped.length ? `${result.skipped.length} skipped` : '',
      result.failed.length ? `${result.failed.length} failed` : '',
    ].filter(Boolean);
    const text = `Enclave review${result.cancelled ? ' (cancelled)' : ''}: ${parts.join(', ')}.`;
    const choice = await vscode.window.showInformationMessage(text, 'Show Report', 'Save Report');
    if (choice === 'Show Report') await showReport();
    else if (choice === 'Save Report') await saveReport();
  }

  async function showReport(): Promise<void> {
    if (!last) return;
    const document = await vscode.workspace.openTextDocument({ language: 'markdown', content: last.report });
    await vscode.window.showTextDocument(document, { preview: true });
  }

  async function saveReport(): Promise<void> {
    if (!last) {
      void vscode.window.showInformationMessage(
        'Enclave: there is no review to save yet. Run one of the "Enclave: Review …" commands first.',
      );
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, 'enclave-review.md') : undefined,
      filters: { Markdown: ['md'] },
      saveLabel: 'Save Review Report',
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(last.report));
    log.info(`report saved to ${target.fsPath}`);
  }

  function activeDocument(): vscode.TextEditor {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw new ReviewSourceError('Open a file to review it.');
    if (editor.document.uri.scheme !== 'file')
      throw new ReviewSourceError('Save the file to disk first: Enclave reviews files of the workspace.');
    return editor;
  }

  const commands: Record<string, Handler> = {
    'enclave.review.uncommitted': () => review(() => changes('uncommitted')),
    'enclave.review.staged': () => review(() => changes('staged')),
    'enclave.review.branch': () =>
      review(async () => {
        const source = await git();
        const repo = await source.repository();
        const base = await source.pickBase(repo);
        return base ? source.branch(repo, base) : undefined;
      }),
    'enclave.review.file': () => review(async () => documentTarget(activeDocument().document)),
    'enclave.review.selection': () =>
      review(async () => {
        const editor = activeDocument();
        if (editor.selection.isEmpty) throw new ReviewSourceError('Select the lines to review first.');
        return documentTarget(editor.document, editor.selection);
      }),
    'enclave.review.clear': () => {
      running?.controller.abort();
      presentation.clear();
      last = undefined;
    },
    'enclave.review.saveReport': saveReport,
  };

  // In an untrusted workspace the review commands explain why they do nothing.
  const untrusted: Handler = async () => {
    const choice = await vscode.window.showWarningMessage(
      'Enclave review is off in an untrusted workspace. Trust this workspace to review its code.',
      'Manage Workspace Trust',
    );
    if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
  };
  const alwaysAllowed = new Set(['enclave.review.clear', 'enclave.review.saveReport']);

  return vscode.Disposable.from(
    presentation,
    ...Object.entries(commands).map(([id, handler]) =>
      vscode.commands.registerCommand(id, () => (ctx.trusted() || alwaysAllowed.has(id) ? handler() : untrusted())),
    ),
    { dispose: () => running?.controller.abort() },
  );
}
