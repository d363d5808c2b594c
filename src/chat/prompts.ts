// The questions the editor commands ask about a selection. Pure: plain data in, text out.

export interface DiagnosticInfo {
  /** 0-based, as in the editor API. */
  line: number;
  character: number;
  severity: 'error' | 'warning' | 'information' | 'hint';
  message: string;
  source?: string;
  code?: string | number;
}

export type EditorPrompt = 'explain' | 'tests' | 'fix';

export function editorPrompt(kind: EditorPrompt, file: string, languageId: string, diagnostics: readonly DiagnosticInfo[] = []): string {
  switch (kind) {
    case 'explain':
      return `Explain what the selected code from ${file} does, step by step, and point out anything surprising.`;
    case 'tests':
      return (
        `Write unit tests for the selected ${languageId} code from ${file}. Use the test framework and ` +
        'style this project already uses; cover the normal cases, the edge cases and the errors.'
      );
    case 'fix': {
      if (diagnostics.length === 0) {
        return `Find and fix the bugs in the selected code from ${file}. Show the corrected code and say what was wrong.`;
      }
      return (
        `Fix these problems reported in the selected code from ${file}, and show the corrected code:\n` +
        diagnostics.map(formatDiagnostic).join('\n')
      );
    }
  }
}

export function formatDiagnostic(d: DiagnosticInfo): string {
  const origin = d.source ? ` (${d.source}${d.code !== undefined ? ` ${d.code}` : ''})` : d.code !== undefined ? ` (${d.code})` : '';
  return `- line ${d.line + 1}, column ${d.character + 1}, ${d.severity}: ${d.message}${origin}`;
}
