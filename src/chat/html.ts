// The chat webview's page. Pure, so the standalone browser test serves exactly what VS Code shows.

export interface ChatPageResources {
  /** `webview.cspSource`: the origin local resources are served from. */
  cspSource: string;
  /** A fresh random value per page load; only scripts carrying it run. */
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

export const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The start of every Enclave webview page up to `<body>`: the strict CSP with its nonce (refused
 * unless it is a long random token), the stylesheet and the title.
 */
export function webviewPageHead(r: { cspSource: string; nonce: string; styleUri: string }, title: string): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(r.nonce)) throw new Error(`${title}: the nonce must be a long random token`);
  const csp = escapeAttribute(contentSecurityPolicy(r.cspSource, r.nonce));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttribute(r.styleUri)}">
<title>${escapeAttribute(title)}</title>
</head>
`;
}

export function renderChatHtml(r: ChatPageResources): string {
  return `${webviewPageHead(r, 'Enclave Chat')}<body>
<header class="toolbar" role="toolbar" aria-label="Chat">
  <button id="new-chat" class="toolbar-button" title="New chat">New chat</button>
  <button id="toggle-history" class="toolbar-button" title="Past chats" aria-expanded="false" aria-controls="history">History</button>
</header>
<section id="history" hidden aria-label="Past chats">
  <ul id="history-list"></ul>
</section>
<div id="destination" role="status" hidden></div>
<main id="messages" aria-live="polite"></main>
<div id="notice" role="status" hidden></div>
<footer id="composer">
  <div id="rules" aria-label="Project rules" hidden></div>
  <div id="chips" aria-label="Attached context"></div>
  <textarea id="input" rows="3" aria-label="Message" placeholder="Ask about your code (Enter to send, Shift+Enter for a new line, @ to attach a file)"></textarea>
  <div class="composer-actions">
    <button id="attach" class="secondary" title="Attach a workspace file">@ File</button>
    <span class="spacer"></span>
    <button id="regenerate" class="secondary" hidden>Regenerate</button>
    <button id="stop" hidden>Stop</button>
    <button id="send">Send</button>
  </div>
</footer>
<script nonce="${r.nonce}" src="${escapeAttribute(r.scriptUri)}"></script>
</body>
</html>`;
}
