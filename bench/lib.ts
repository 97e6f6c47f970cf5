import { spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');

export const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function machineLine(): string {
  return `${new Date().toISOString().slice(0, 10)} — ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

/** Append a dated section to bench/RESULTS.md. */
export function appendResults(title: string, body: string): void {
  if (!existsSync(RESULTS)) writeFileSync(RESULTS, '# Benchmark results\n\nEach section: our figure beside a reference measured in the same run, and the ratio. Newest last.\n');
  appendFileSync(RESULTS, `\n## ${title}\n\n${body}`);
  void readFileSync;
}

/** git in this repository: its trimmed stdout, or an Error carrying its stderr. */
export function git(...args: string[]): string {
  const r = spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Compile sipd into bench/out/NAME-PID (git-ignored; inside the repo so node_modules resolves):
 * the working tree's src/ as it is now, or the commit `rev` (--commit). A bench never runs dist/
 * itself, which another `npm run build` may rewrite while it runs. `onRemove` is handed the
 * directory's removal, for the bench's own clean-up.
 */
export function buildSipd(name: string, rev: string | undefined, onRemove: (remove: () => void) => void): { bin: string; what: string } {
  const dir = join(HERE, 'out', `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  onRemove(() => rmSync(dir, { recursive: true, force: true }));
  const parts = ['bin', 'src', 'package.json', 'tsconfig.json'];
  let what: string;
  if (rev) {
    if (!/^[\w./~^@{}-]+$/.test(rev)) throw new Error(`--commit: not a revision: ${rev}`);
    const short = git('rev-parse', '--short', `${rev}^{commit}`);
    git('archive', '--format=tar', '-o', join(dir, 'src.tar'), short, ...parts);
    const x = spawnSync('tar', ['-xf', join(dir, 'src.tar'), '-C', dir], { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`tar: ${x.stderr}`);
    what = `commit ${short} ("${git('log', '-1', '--format=%s', short)}")`;
  } else {
    for (const p of parts) cpSync(join(REPO, p), join(dir, p), { recursive: true });
    const dirty = git('status', '--porcelain', '--', 'src', 'bin').split('\n').filter(Boolean).length;
    what = `the working tree at ${git('rev-parse', '--short', 'HEAD')}${dirty ? ` with ${dirty} uncommitted changes under src/ and bin/` : ' (clean)'}`;
  }
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`building sipd from ${what} failed (try --commit HEAD):\n${(r.stdout + r.stderr).slice(0, 2000)}`);
  return { bin: join(dir, 'bin', 'sipd.js'), what };
}

/** Stops a daemon the bench started (SIGTERM, SIGKILL after 20 s) and removes its state dir; safe to call when it already exited. */
export function daemonStopper(child: ChildProcess, stateDir: string): () => Promise<void> {
  let gone = child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<void>((r) => {
    if (gone) r();
    else child.on('exit', () => ((gone = true), r()));
  });
  return async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(stateDir, { recursive: true, force: true });
  };
}
