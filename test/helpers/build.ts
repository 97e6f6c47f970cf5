/**
 * Tests that run bin/run.cjs or bin/sipd.js exercise dist/, not src/. A dist/ that is missing or
 * older than its source would test yesterday's code and pass or fail for the wrong reason, so
 * such tests FAIL (never skip) with the file that is out of date. scripts/test.sh builds first.
 *
 * The rule: every src/**.ts (but .d.ts) has its dist/**.js, and none is older than its source;
 * and dist/ was bundled for the CLI after tsc wrote it (see staleBundle).
 * Checked once per test process (a few hundred stats), when the first built binary is run.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Why `repo`'s dist/ cannot be trusted for its src/ as it is now, or undefined when it can. */
export function staleBuild(repo = REPO): string | undefined {
  const SRC = join(repo, 'src');
  const DIST = join(repo, 'dist');
  if (!existsSync(DIST)) return 'dist/ is missing: run `npm run build` (scripts/test.sh builds before the tests)';
  const missing: string[] = [];
  const older: string[] = [];
  for (const src of sources(SRC)) {
    const out = join(DIST, relative(SRC, src)).replace(/\.ts$/, '.js');
    let built: number;
    try {
      built = statSync(out).mtimeMs;
    } catch {
      missing.push(relative(repo, out));
      continue;
    }
    if (statSync(src).mtimeMs > built) older.push(relative(repo, src));
  }
  const more = (list: string[]) => (list.length > 1 ? ` and ${list.length - 1} more` : '');
  if (missing.length) return `dist/ is incomplete: ${missing[0]}${more(missing)} not built: run \`npm run build\``;
  if (older.length) return `dist/ is older than the source: ${older[0]}${more(older)} changed after the last build: run \`npm run build\``;
  return staleBundle(DIST);
}

/**
 * `npm run build` bundles after tsc (scripts/bundle.mjs): the entries bin/run.cjs loads are written
 * over tsc's dist/commands/**.js, dist/cli/main.js and dist/cli/hooks/, their shared code to
 * dist/chunks/, and dist/chunks/BUNDLE.json last. A dist/ file the CLI can reach (all but sipd's
 * dist/daemon/, and dist/web/: the browser's bundle, which scripts/build-web.mjs writes after it)
 * newer than that stamp was written by a tsc run that was not bundled.
 */
function staleBundle(DIST: string): string | undefined {
  const stamp = join(DIST, 'chunks', 'BUNDLE.json');
  if (!existsSync(stamp)) return 'dist/ is not bundled (no dist/chunks/BUNDLE.json): run `npm run build` (tsc, then scripts/bundle.mjs)';
  const built = statSync(stamp).mtimeMs;
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
  const newer = walk(DIST)
    .map((js) => relative(DIST, js))
    .filter((rel) => !rel.startsWith('daemon/') && !rel.startsWith('chunks/') && !rel.startsWith('web/') && statSync(join(DIST, rel)).mtimeMs > built);
  const more = newer.length > 1 ? ` and ${newer.length - 1} more` : '';
  if (newer.length) return `dist/ is not bundled: dist/${newer[0]}${more} written after the last bundle: run \`npm run build\``;
  return undefined;
}

let verdict: string | undefined | null = null;

/** Throws unless dist/ is built from the current src/ (checked once per process). */
export function assertFreshBuild(): void {
  if (verdict === null) verdict = staleBuild();
  if (verdict) throw new Error(`stale build under test: ${verdict}`);
}
