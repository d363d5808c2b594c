// How project rules join a system prompt, and how much of a small context they may take. Pure.

export interface RulesText {
  files: readonly { path: string }[];
  text: string;
}

/** Share of the model's context the rules may fill; the rest is the question, history and reply. */
export const RULES_CONTEXT_SHARE = 0.25;

/** `system` followed by the project's rules, introduced as instructions to follow. */
export function systemWithRules(system: string, rules: RulesText | undefined): string {
  if (!rules || rules.text.trim() === '') return system;
  const names = rules.files.map((f) => f.path).join(', ');
  return `${system}\n\nThis project gives these rules (from ${names}); follow them:\n\n${rules.text}`;
}

/**
 * The rules cut to at most `maxTokens` (a head cut at a line end, with a note), so that a long
 * AGENTS.md cannot push the question out of a small model's context.
 */
export async function fitRules(
  rules: RulesText | undefined,
  maxTokens: number,
  countTokens: (text: string) => number | Promise<number>,
): Promise<RulesText | undefined> {
  if (!rules) return undefined;
  let tokens = await countTokens(rules.text);
  if (tokens <= maxTokens) return rules;
  const note = '\n(The rules were shortened to fit the model’s context.)';
  let chars = Math.floor((rules.text.length * maxTokens) / tokens);
  for (let attempt = 0; attempt < 8 && chars > 0; attempt++) {
    const cut = rules.text.lastIndexOf('\n', chars);
    const text = rules.text.slice(0, cut > chars / 2 ? cut + 1 : chars) + note;
    tokens = await countTokens(text);
    if (tokens <= maxTokens) return { files: rules.files, text };
    chars = Math.floor(chars * 0.8);
  }
  return undefined;
}
