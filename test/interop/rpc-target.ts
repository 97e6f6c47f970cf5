/**
 * The proxy the RPC interop tests run against, chosen by SIPCTL_TEST_TARGET:
 *   kamailio (default)  a real Kamailio 5.6 from the lab config (test/helpers/kamailio.ts)
 *   sipd                sipctl's own daemon: no starter yet, so those suites skip with a reason
 * Tests use only what ProxyUnderTest offers (RPC URLs per transport, the SIP port, an
 * independent oracle `rpc()` that does not go through sipctl), so adding a sipd starter here
 * runs the same suites against sipd. `kamcmd` exists only for Kamailio.
 */
import assert from 'node:assert/strict';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import { kamailioMissing, startKamailio, stopAllKamailio, type ExecResult } from '../helpers/kamailio.js';

export type TargetKind = 'kamailio' | 'sipd';

export const TARGET: TargetKind = process.env.SIPCTL_TEST_TARGET === 'sipd' ? 'sipd' : 'kamailio';

export interface ProxyUnderTest {
  kind: TargetKind;
  /** JSON-RPC over HTTP. */
  rpcUrl: string;
  /** Kamailio's jsonrpcs FIFO, as a sipctl URL. */
  fifoUrl?: string;
  /** A unix socket: Kamailio's jsonrpcs datagram socket (sipd: its stream control socket). */
  unixUrl?: string;
  sipPort: number;
  /** Oracle: one JSON-RPC call over HTTP that does not use sipctl's client. */
  rpc(method: string, params?: unknown[]): Promise<{ result?: any; error?: { code: number; message: string } }>;
  /** kamcmd (binrpc) against this instance; Kamailio only. */
  kamcmd?(...args: string[]): Promise<ExecResult>;
  stop(): Promise<void>;
}

/** Why the suites cannot run here, or undefined. */
export function targetMissing(): string | undefined {
  if (TARGET === 'sipd') return 'SIPCTL_TEST_TARGET=sipd: no sipd starter yet (add one to test/interop/rpc-target.ts)';
  return kamailioMissing();
}

export interface StartOptions {
  dbUrl: string;
  /** Extra global config lines (Kamailio), e.g. shm_mem_size=512 for 100,000 contacts. */
  extraGlobals?: string[];
}

export async function startProxy(opts: StartOptions): Promise<ProxyUnderTest> {
  if (TARGET === 'sipd') throw new Error(targetMissing());
  const k = await startKamailio({ dbUrl: opts.dbUrl, extraGlobals: opts.extraGlobals });
  return {
    kind: 'kamailio',
    rpcUrl: k.rpcUrl,
    fifoUrl: `fifo:${k.fifoPath}`,
    unixUrl: `unix:${k.dgramPath}`,
    sipPort: k.sipPort,
    rpc: (method, params) => k.rpc(method, params),
    kamcmd: (...args) => k.kamcmd(...args),
    stop: () => k.stop(),
  };
}

export async function stopAllProxies(): Promise<void> {
  if (TARGET === 'kamailio') await stopAllKamailio();
}

export interface ProxyDb {
  db: TestDb;
  /** Environment for sipctl with this database (password via SIPCTL_DB_PASSWORD) and no user config. */
  env: NodeJS.ProcessEnv;
}

/** A MariaDB database whose schema is made by `sipctl db init`, as a deployment would. */
export async function makeProxyDb(extraEnv: Record<string, string | undefined> = {}): Promise<ProxyDb> {
  const db = await createTestDb('mysql', { init: false });
  const env = isolatedEnv({ SIPCTL_DB: db.url, SIPCTL_DB_PASSWORD: db.password, SIPCTL_DOMAIN: '127.0.0.1', ...extraEnv });
  const init = await runSipctl(['db', 'init'], { env });
  assert.equal(init.code, 0, init.stderr);
  return { db, env };
}

/** Run the built sipctl; `timeoutMs` bounds the whole process. */
export function sipctlWith(env: NodeJS.ProcessEnv) {
  return (args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> =>
    runSipctl(args, { env: { ...env, ...(opts.env ?? {}) }, input: opts.input, timeoutMs: opts.timeoutMs ?? 30000 });
}

/** stderr holds exactly one line (the error), nothing more. */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${stderr}`);
  return lines[0]!;
}
