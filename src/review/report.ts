// The review as a markdown document: a summary line, the findings by file, what was skipped.
import type { ReviewResult } from './reviewer';

export function renderReport(result: ReviewResult, options: { generatedAt?: Date } = {}): string {
  const { counts } = result;
  const total = result.findings.length;
  const out: string[] = [`# Enclave review: ${escapeInline(result.title)}`, ''];
  if (options.generatedAt) out.push(`_${options.generatedAt.toISOString()}_`, '');
  out.push(
    `${plural(total, 'finding')} (${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info} info) ` +
      `in ${plural(result.reviewed.length, 'file')} reviewed` +
      (result.skipped.length ? `, ${result.skipped.length} skipped` : '') +
      (result.failed.length ? `, ${result.failed.length} failed` : '') +
      `. ${(result.durationMs / 1000).toFixed(1)} s, ${result.tokensPerSecond.toFixed(1)} tokens/s generated, ${result.promptTokensPerSecond.toFixed(0)} tokens/s read.`,
  );
  if (result.cancelled) out.push('', '**The review was cancelled**: only the files reviewed before that are included.');
  if (result.dropped) out.push('', `${plural(result.dropped, 'finding')} outside the changed lines or not matching the schema left out.`);

  if (total) {
    out.push('', '## Findings');
    let file = '';
    for (const f of result.findings) {
      if (f.file !== file) {
        file = f.file;
        out.push('', `### ${escapeInline(file)}`, '');
      }
      const lines = f.startLine === f.endLine ? `line ${f.startLine}` : `lines ${f.startLine}–${f.endLine}`;
      out.push(`- **${f.severity}** (${f.category}) ${lines}: ${escapeInline(f.message)}`);
      if (f.replacement !== null) {
        const fence = '`'.repeat(Math.max(3, longestRun(f.replacement, '`') + 1));
        out.push(`  Suggested replacement:`, `  ${fence}`, ...f.replacement.split('\n').map((l) => `  ${l}`), `  ${fence}`);
      }
    }
  }
  if (result.skipped.length) {
    out.push('', '## Skipped', '');
    for (const s of result.skipped) out.push(`- ${escapeInline(s.path)}: ${s.reason}${s.detail ? ` (${escapeInline(s.detail)})` : ''}`);
  }
  if (result.failed.length) {
    out.push('', '## Failed', '');
    for (const f of result.failed) out.push(`- ${escapeInline(f.path)}: ${escapeInline(f.error)}`);
  }
  return out.join('\n') + '\n';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One line of text that markdown shows as written (model text may contain anything). */
function escapeInline(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/[\\`*_{}[\]<>#|!]/g, (c) => `\\${c}`);
}

function longestRun(text: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}
