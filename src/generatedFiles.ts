// Files nobody writes by hand, known by name: lockfiles and minified / generated sources. Code
// review skips them (nothing to review) and the adapter dataset leaves them out (nothing to learn);
// one list, so the two cannot drift apart again.

/** Lockfile names, lower case (matched case-insensitively: `Cargo.lock`, `Pipfile.lock`). */
const LOCKFILES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lockb',
  'bun.lock',
  'cargo.lock',
  'gemfile.lock',
  'composer.lock',
  'poetry.lock',
  'pipfile.lock',
  'uv.lock',
  'go.sum',
  'flake.lock',
  'podfile.lock',
  'pubspec.lock',
  'mix.lock',
  'packages.lock.json',
  'gradle.lockfile',
]);

const GENERATED_NAMES = [
  /\.min\.(js|css|mjs)$/i,
  /\.(js|css|mjs)\.map$/i,
  /\.bundle\.js$/i,
  /\.pb\.go$/i,
  /_pb2(_grpc)?\.py$/i,
  /\.g\.(cs|dart)$/i,
  /\.designer\.cs$/i,
  /\.generated\.\w+$/i,
];

/** Whether a file name (no folder) is a package manager's lockfile. */
export function isLockfile(name: string): boolean {
  return LOCKFILES.has(name.toLowerCase());
}

/** Whether a file name (no folder) says it is minified or generated. */
export function isGeneratedName(name: string): boolean {
  return GENERATED_NAMES.some((pattern) => pattern.test(name));
}
