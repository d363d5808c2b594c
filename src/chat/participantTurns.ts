// The `@enclave` participant's core, free of vscode: VS Code's chat turns become the stored
// messages the sidebar chat's prompt builder takes, and a slash command becomes the same prepared
// question as the editor's "Explain / Write Tests / Fix" commands.
import { newId, type StoredAttachment, type StoredMessage } from './history';
import { editorPrompt, type DiagnosticInfo, type EditorPrompt } from './prompts';

/** The participant's slash commands (package.json `chatParticipants[].commands`). */
export const PARTICIPANT_COMMANDS: Readonly<Record<string, EditorPrompt>> = { explain: 'explain', tests: 'tests', fix: 'fix' };

/** An earlier turn of the conversation in VS Code's chat, as text. */
export interface PlainTurn {
  role: 'user' | 'assistant';
  text: string;
  command?: string;
}

/** The code a command is about: the file (workspace-relative), its language, its problems. */
export interface CodeInFocus {
  file: string;
  languageId: string;
  diagnostics?: readonly DiagnosticInfo[];
}

/** A command's prepared question about the code in focus, followed by what the user typed. */
export function participantQuestion(prompt: string, command: string | undefined, focus?: CodeInFocus): string {
  const kind = command !== undefined && Object.hasOwn(PARTICIPANT_COMMANDS, command) ? PARTICIPANT_COMMANDS[command] : undefined;
  const typed = prompt.trim();
  if (!kind) return typed;
  const prepared = editorPrompt(kind, focus?.file ?? 'the attached code', focus?.languageId ?? '', focus?.diagnostics);
  return typed ? `${prepared}\n\n${typed}` : prepared;
}

/**
 * The conversation for `planReply`: the earlier turns as text (their attachments went with them
 * and are not sent again), then the question with its attachments. Empty replies are left out.
 */
export function participantTurns(
  history: readonly PlainTurn[],
  question: string,
  attachments: readonly StoredAttachment[],
  now: number,
): StoredMessage[] {
  const turns: StoredMessage[] = [];
  for (const turn of history) {
    const content = turn.role === 'user' ? participantQuestion(turn.text, turn.command) : turn.text;
    if (content.trim() === '') continue;
    turns.push({ id: newId(now), role: turn.role, content, time: now });
  }
  const last: StoredMessage = { id: newId(now), role: 'user', content: question, time: now };
  if (attachments.length > 0) last.attachments = [...attachments];
  turns.push(last);
  return turns;
}
