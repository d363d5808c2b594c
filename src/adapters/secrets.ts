// What must never be trained on: files that hold credentials by their name, and text that holds
// a credential by its shape. An adapter memorises what it saw, so a miss here can later be
// completed into someone's editor. A table of our own rather than a library: secretlint's preset
// (the maintained npm option) covers GitLab, npm and basic-auth URLs but not JWTs, Azure account
// keys or hex API keys, and is an async, ESM-only, ~30-package dependency for a synchronous check.
// Each pattern is exercised by test/unit/adapters-dataset.test.ts. Plain TypeScript.

const secretFileNames: readonly RegExp[] = [
  /^\.env(\..*)?$/i,
  /\.(pem|key|p12|pfx|jks|keystore|crt|cer|der|asc|gpg|kdbx|ovpn|ppk)$/i,
  /^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i,
  /^credentials(\.json|\.ya?ml|\.xml)?$/i,
  /^(\.npmrc|\.yarnrc\.yml|\.pypirc|\.netrc|\.pgpass|\.htpasswd|\.git-credentials|\.dockercfg)$/i,
  /^secrets?\.(json|ya?ml|toml|ini|txt)$/i,
  /^(service-account|serviceaccount).*\.json$/i,
  /\.tfstate(\.backup)?$/i,
  // Terraform variable files carry the provider credentials a plan needs.
  /\.tfvars(\.json)?$/i,
  /^kubeconfig$|\.kubeconfig$/i,
];
const secretDirs = /(^|\/)\.(aws|ssh|gnupg|docker|kube)\//;

/** Whether a file holds credentials by its name or folder (`.env`, keys, kubeconfig, tfvars …). */
export function isSecretFile(relPath: string): boolean {
  const name = relPath.split('/').pop() ?? relPath;
  return secretFileNames.some((p) => p.test(name)) || secretDirs.test(relPath);
}

const secretPatterns: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/PuTTY-User-Key-File-\d/, 'a private key'],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, 'an AWS access key id'],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, 'a GitHub token'],
  [/\bgithub_pat_[A-Za-z0-9_]{40,}\b/, 'a GitHub token'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/, 'a GitLab token'],
  [/\bnpm_[A-Za-z0-9]{36}\b/, 'an npm token'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\bsk-(proj-|ant-)?[A-Za-z0-9_-]{32,}\b/, 'an API key'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/, 'a Google API key'],
  [/\b(sk|rk)_live_[0-9a-zA-Z]{24,}\b/, 'a Stripe key'],
  [/\bhf_[A-Za-z0-9]{34,}\b/, 'a Hugging Face token'],
  // Three base64url parts, the first two JSON objects ("eyJ" is `{"` encoded).
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, 'a JSON Web Token'],
  [/\b(AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{40,}={0,2}/, 'an Azure storage key'],
  [/\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*/, 'a bearer token'],
];

/**
 * A URL with a password in it (`postgres://user:pw@host`, `https://user:token@…`). A password that
 * is a template (`${PASSWORD}`, `<password>`, `%s`) is not a secret yet.
 */
const credentialUrl = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"`]+:([^\s/@'"`]+)@[^\s'"`]+/gi;

/** A value assigned to a secret-sounding name: `API_KEY = "…"`, `token: …`, `"password": "…"`. */
const secretAssignment =
  /(secret|token|passw(or)?d|api[_-]?key|access[_-]?key|private[_-]?key|auth|credential)[\w.-]*["']?\s*[:=]\s*["']?([A-Za-z0-9+/=_\-.]{20,})/gi;

function shannonEntropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let entropy = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/** What kind of secret the text contains, or undefined. */
export function findSecret(text: string): string | undefined {
  for (const [pattern, what] of secretPatterns) if (pattern.test(text)) return what;
  for (const match of text.matchAll(credentialUrl)) {
    if (!/^[$<{%]/.test(match[1])) return 'a URL with a password';
  }
  for (const match of text.matchAll(secretAssignment)) {
    const value = match[3];
    // Mixed-case random strings (AWS secret keys, passwords).
    if (/[A-Z]/.test(value) && /[a-z]/.test(value) && /\d/.test(value) && shannonEntropy(value) > 4) return 'a high-entropy secret value';
    // Hex keys (many APIs issue 32- or 40-hex-digit keys). Hex is only suspect under a secret's
    // name: a git SHA or a content hash is hex too, and is assigned to names like `commit`/`sha`.
    if (/^[0-9a-f]{32,}$/i.test(value) && /\d/.test(value) && /[a-f]/i.test(value)) return 'a hex API key';
  }
  return undefined;
}
