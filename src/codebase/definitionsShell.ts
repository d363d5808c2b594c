// The vscode side of definitions near the cursor: the language servers' definition and
// type-definition providers answer, files outside the workspace are left out, and a file's change
// (saved, or changed on disk) drops the cached definitions that came from it.
import * as vscode from 'vscode';

import { DefinitionContext, type DefinitionLocation, type DefinitionLookup } from './definitions';

const maxReadBytes = 1_000_000;

function toLocation(found: vscode.Location | vscode.LocationLink): { uri: vscode.Uri; line: number } {
  if ('targetUri' in found) return { uri: found.targetUri, line: (found.targetSelectionRange ?? found.targetRange).start.line };
  return { uri: found.uri, line: found.range.start.line };
}

class LanguageServerLookup implements DefinitionLookup {
  async find(uri: string, offset: number): Promise<DefinitionLocation[]> {
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (!document) return [];
    const position = document.positionAt(offset);
    const ask = (command: string) =>
      Promise.resolve(
        vscode.commands.executeCommand<Array<vscode.Location | vscode.LocationLink> | undefined>(command, document.uri, position),
      ).then(
        (found) => found ?? [],
        () => [],
      );
    // A variable's definition is often the line in view; its type's is the one the model lacks.
    const [definitions, typeDefinitions] = await Promise.all([
      ask('vscode.executeDefinitionProvider'),
      ask('vscode.executeTypeDefinitionProvider'),
    ]);
    const locations: DefinitionLocation[] = [];
    for (const found of [...definitions, ...typeDefinitions]) {
      const { uri: target, line } = toLocation(found);
      // Nothing outside the workspace: a library's bundled declarations are not this project's code.
      if (target.scheme !== 'file' && target.scheme !== 'untitled' && target.scheme !== 'vscode-remote') continue;
      if (target.scheme !== 'untitled' && !vscode.workspace.getWorkspaceFolder(target)) continue;
      if (locations.some((l) => l.uri === target.toString() && l.line === line)) continue;
      locations.push({ uri: target.toString(), path: vscode.workspace.asRelativePath(target, false), line });
    }
    return locations;
  }

  async read(uri: string): Promise<string | undefined> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (open) return open.getText();
    try {
      const target = vscode.Uri.parse(uri);
      const stat = await vscode.workspace.fs.stat(target);
      if (stat.size > maxReadBytes) return undefined;
      return new TextDecoder().decode(await vscode.workspace.fs.readFile(target));
    } catch {
      return undefined;
    }
  }
}

/** The definitions cache fed by the language servers, kept fresh by file events. */
export function createDefinitionContext(): { definitions: DefinitionContext; disposable: vscode.Disposable } {
  const definitions = new DefinitionContext({ lookup: new LanguageServerLookup() });
  const watcher = vscode.workspace.createFileSystemWatcher('**/*', true, false, false);
  const disposable = vscode.Disposable.from(
    watcher,
    watcher.onDidChange((uri) => definitions.invalidateFile(uri.toString())),
    watcher.onDidDelete((uri) => definitions.invalidateFile(uri.toString())),
    vscode.workspace.onDidSaveTextDocument((document) => definitions.invalidateFile(document.uri.toString())),
    vscode.workspace.onDidCloseTextDocument((document) => definitions.clear(document.uri.toString())),
  );
  return { definitions, disposable };
}
