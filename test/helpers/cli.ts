/** Run the BUILT sipctl as a user would: a child process with real stdout, stderr and exit code. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertFreshBuild } from './build.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SIPCTL = join(REPO, 'bin', 'run.cjs');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An environment with no user config, no colour and a private data dir, so tests never touch the user's files. */
export function isolatedEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'sipctl-home-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local', 'share'), LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs the built bin/run.cjs; `nodeArgs` go to node before it (e.g. `-r` a preload). */
export function runSipctl(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    assertFreshBuild(); // the built binary must be today's source
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), SIPCTL, ...args], { env: opts.env ?? isolatedEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sipctl ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
