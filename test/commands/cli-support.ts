/** Shared bits for the CLI tests: a private environment per suite and checks every run must pass. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import type { TestDb } from '../helpers/db.js';

export interface Cli {
  env: NodeJS.ProcessEnv;
  /** set in before(): runs then get `--db <url>` (unless given) and SIPCTL_DB_PASSWORD */
  db?: TestDb;
  /** every run so far, for the global checks (no stack traces, no leaked secrets) */
  runs: Array<{ args: string[]; r: RunResult }>;
  run(args: string[], opts?: { input?: string; env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<RunResult>;
}

/**
 * A CLI bound to one private HOME (removed after the suite) and, once `db` is set, one database.
 * Call it synchronously in a describe body (it registers an after hook).
 */
export function cliFor(extraEnv: Record<string, string | undefined> = {}): Cli {
  const env = isolatedEnv({ NO_COLOR: '1', ...extraEnv });
  after(() => rmSync(env.HOME!, { recursive: true, force: true }));
  const runs: Cli['runs'] = [];
  return {
    env,
    runs,
    async run(args, opts = {}) {
      const db = this.db;
      const full = db && !args.includes('--db') ? [...args, '--db', db.url] : args;
      const dbEnv = db?.password ? { SIPCTL_DB_PASSWORD: db.password } : {};
      const r = await runSipctl(full, { env: { ...env, ...dbEnv, ...opts.env }, input: opts.input, timeoutMs: opts.timeoutMs });
      runs.push({ args: full, r });
      return r;
    },
  };
}

export function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export function expectExit(r: RunResult, code: number): void {
  assert.equal(r.code, code, show(r));
}

/** Exactly one line on stderr, the documented human error format. */
export function oneErrorLine(r: RunResult): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, show(r));
  assert.match(lines[0], /^sipctl: /);
  return lines[0];
}

/** The --json error document on stderr. */
export function jsonError(r: RunResult): { code: string; category: string; message: string; hint?: string; exitCode: number; details?: Record<string, unknown> } {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, show(r));
  const doc = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(doc), ['error'], show(r));
  assert.equal(doc.error.exitCode, r.code);
  return doc.error;
}

export const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;
export const ESC = '\u001b';
