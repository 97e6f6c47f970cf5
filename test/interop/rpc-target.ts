/**
 * The proxy the RPC interop tests run against, chosen by SIPCTL_TEST_TARGET:
 *   kamailio (default)  a real Kamailio 5.6 from the lab config (test/helpers/kamailio.ts)
 *   sipd                sipctl's own daemon (bin/sipd.js, built) on the same MariaDB database,
 *                       configured like the Kamailio lab (MessageCount htable; sipsak, the
 *                       suites' SIP client, off the scanner list)
 * Tests use only what ProxyUnderTest offers (RPC URLs per transport, the SIP port, an
 * independent oracle `rpc()` that does not go through sipctl, and `expect` for the few things
 * that differ on purpose), so the same suites run against both. CI runs each suite twice: the
 * plain file (Kamailio unless SIPCTL_TEST_TARGET says otherwise) and a `*-sipd.test.ts` twin that
 * sets SIPCTL_TEST_TARGET=sipd and then imports it dynamically (TARGET is read when this module
 * loads, so the variable must be set before anything imports it).
 *
 * `kamcmd`: the real kamcmd (binrpc) for Kamailio. sipd speaks no binrpc, so for sipd it is an
 * emulation: one plain JSON-RPC call over HTTP (not sipctl's client) rendered the way kamcmd
 * prints results and errors (tab-indented `{ key: value }`, `error: CODE - MESSAGE`, exit 0).
 * It is the same independent oracle as `rpc()`, in kamcmd's shape, so assertions written
 * against kamcmd's text hold for both.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import { kamailioMissing, startKamailio, stopAllKamailio, type ExecResult } from '../helpers/kamailio.js';
import { assertBuilt, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { register, type RegisterResult } from '../../src/core/demo/sip-ua.js';

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
  /** kamcmd against this instance: the real one (binrpc) for Kamailio, an emulation over plain JSON-RPC for sipd (see above). */
  kamcmd?(...args: string[]): Promise<ExecResult>;
  /** What differs between the targets on purpose. */
  expect: TargetExpectations;
  stop(): Promise<void>;
}

export interface TargetExpectations {
  /** core.version as sipctl prints it (status, version), unanchored: use `.source` inside bigger patterns */
  version: RegExp;
  /** sipctl's transport name for `unixUrl` (status --json) */
  unixTransport: 'unix-dgram' | 'unix-stream';
  /** sipctl's one-line error for `sipctl rpc no.such` */
  unknownMethod: string;
  /**
   * A User-Agent with terminal control codes that the proxy accepts and stores, and how sipctl
   * must print it. Kamailio takes raw C0 controls (ESC, BEL). sipd's parser refuses any C0
   * control but HTAB in the start line and headers (RFC 3261 TEXT-UTF8 has none), and parses
   * User-Agent by its grammar (products are ASCII tokens): such requests are dropped unanswered
   * on UDP, so nothing of that kind can be stored. C1 controls (OSC U+009D, DCS U+0090: valid
   * UTF-8, obeyed by 8-bit terminals) inside a comment do reach sipd's usrloc and are what
   * sipctl must escape there. (Only those two: the suites' MariaDB database is latin1, and
   * sipd writes through to it; a character latin1 cannot hold, CSI U+009B included, makes the
   * REGISTER fail with 500.)
   */
  hostileUserAgent: { raw: string; printed: string };
}

const EXPECT: Record<TargetKind, TargetExpectations> = {
  kamailio: {
    version: /kamailio 5\.6\.\d+ \(x86_64\/linux\)/,
    unixTransport: 'unix-dgram',
    unknownMethod: 'sipctl: no.such: Method Not Found (code 500)',
    hostileUserAgent: { raw: 'evil\u001b[2J\u001b]0;pwn\u0007', printed: 'evil\\x1b[2J\\x1b]0;pwn\\x07' },
  },
  sipd: {
    version: /sipd \d+\.\d+\.\d+ \(\w+\/\w+\)/,
    unixTransport: 'unix-stream',
    // JSON-RPC's own code for an unknown method (src/daemon/kernel/README.md), not Kamailio's 500
    unknownMethod: 'sipctl: no.such: Method not found (code -32601)',
    hostileUserAgent: { raw: 'evil (\u009d0;pwn\u0090)', printed: 'evil (\\x9d0;pwn\\x90)' },
  },
};

/** Expectations of the selected target, for suites that need them before a proxy is started. */
export const TARGET_EXPECT: TargetExpectations = EXPECT[TARGET];

/** RPC transports besides HTTP the target offers: Kamailio's FIFO and datagram socket; sipd's stream socket. */
export const EXTRA_TRANSPORTS: ReadonlyArray<'fifo' | 'unix'> = TARGET === 'kamailio' ? ['fifo', 'unix'] : ['unix'];

/** Why the suites cannot run here, or undefined. */
export function targetMissing(): string | undefined {
  if (TARGET === 'sipd') {
    try {
      assertBuilt();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }
  return kamailioMissing();
}

export interface StartOptions {
  dbUrl: string;
  /** Extra global config lines (Kamailio), e.g. shm_mem_size=512 for 100,000 contacts. */
  extraGlobals?: string[];
  /** Extra module lines (Kamailio loadmodule/modparam; see test/helpers/kamailio-modules.ts). */
  extraModules?: string[];
  /** sipd module parameters merged over the suite's defaults (sipd's twin of extraModules). */
  sipdModules?: Record<string, Record<string, unknown>>;
}

export async function startProxy(opts: StartOptions): Promise<ProxyUnderTest> {
  if (TARGET === 'sipd') return startSipdTarget(opts);
  const k = await startKamailio({ dbUrl: opts.dbUrl, extraGlobals: opts.extraGlobals, extraModules: opts.extraModules });
  return {
    kind: 'kamailio',
    rpcUrl: k.rpcUrl,
    fifoUrl: `fifo:${k.fifoPath}`,
    unixUrl: `unix:${k.dgramPath}`,
    sipPort: k.sipPort,
    rpc: (method, params) => k.rpc(method, params),
    kamcmd: (...args) => k.kamcmd(...args),
    expect: EXPECT.kamailio,
    stop: () => k.stop(),
  };
}

const runningSipds = new Set<SipdProcess>();

/**
 * sipd as the Kamailio lab runs: the same tables (MessageCount next to ipban and userban), the
 * same database, SIP on a free four-digit port (sipsak), JSON-RPC over HTTP and its unix socket.
 * `extraGlobals` is Kamailio syntax and has no sipd meaning (sipd needs no shared-memory size).
 */
async function startSipdTarget(opts: StartOptions): Promise<ProxyUnderTest> {
  const s = await startSipd({
    dbUrl: opts.dbUrl,
    config: {
      htables: { MessageCount: { size: 8 } },
      // sipsak is the suites' SIP client: the default scanner list without it
      modules: { scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli', 'sundayddr', 'sip-scan', 'iWar'] }, ...(opts.sipdModules ?? {}) },
    },
  });
  runningSipds.add(s);
  const rpc = (method: string, params?: unknown[]) => plainRpc(s.rpcUrl, method, params);
  return {
    kind: 'sipd',
    rpcUrl: s.rpcUrl,
    unixUrl: `unix:${s.unixPath}`,
    sipPort: s.sipPort,
    rpc,
    kamcmd: async (method, ...params) => {
      const r = await rpc(method, params.map((p) => (/^-?\d+$/.test(p) ? Number(p) : p)));
      const stdout = r.error ? `error: ${r.error.code} - ${r.error.message}\n` : kamcmdText(r.result);
      return { code: 0, stdout, stderr: '' };
    },
    expect: EXPECT.sipd,
    stop: async () => {
      runningSipds.delete(s);
      const r = await s.stop('SIGTERM');
      if (r.code !== 0) throw new Error(`sipd did not stop cleanly (${JSON.stringify(r)}):\n${s.output().slice(-2000)}`);
    },
  };
}

export async function stopAllProxies(): Promise<void> {
  if (TARGET === 'kamailio') await stopAllKamailio();
  for (const s of [...runningSipds]) {
    runningSipds.delete(s);
    await s.stop('SIGKILL');
  }
}

/** One JSON-RPC call over HTTP with node:http only: an oracle that shares no code with sipctl. */
function plainRpc(url: string, method: string, params?: unknown[]): Promise<{ result?: any; error?: { code: number; message: string } }> {
  const body = JSON.stringify({ jsonrpc: '2.0', method, ...(params ? { params } : {}), id: 1 });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new Error(`${method}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** kamcmd's text for a result: scalars on their own, structs as tab-indented `{ name: value }`, arrays as a run of elements. */
export function kamcmdText(v: unknown): string {
  const out: string[] = [];
  const render = (x: unknown, depth: number, prefix: string) => {
    const pad = '\t'.repeat(depth);
    if (Array.isArray(x)) {
      if (depth === 0) {
        for (const e of x) render(e, depth, '');
        return;
      }
      out.push(`${pad}${prefix}{`);
      for (const e of x) render(e, depth + 1, '');
      out.push(`${pad}}`);
    } else if (x !== null && typeof x === 'object') {
      out.push(`${pad}${prefix}{`);
      for (const [k, e] of Object.entries(x)) {
        if (e !== null && typeof e === 'object') render(e, depth + 1, `${k}: `);
        else out.push(`${'\t'.repeat(depth + 1)}${k}: ${String(e)}`);
      }
      out.push(`${pad}}`);
    } else out.push(`${pad}${prefix}${String(x)}`);
  };
  render(v, 0, '');
  return out.join('\n') + '\n';
}

export interface ProxyDb {
  db: TestDb;
  /** Environment for sipctl with this database (password via SIPCTL_DB_PASSWORD) and no user config. */
  env: NodeJS.ProcessEnv;
}

/**
 * One REGISTER with digest auth carrying exactly this User-Agent, from 127.0.0.1, with the
 * Contact sip:USER@127.0.0.1:CONTACTPORT (nothing needs to listen there). Sent by sipd's own
 * test UA (src/core/demo/sip-ua.ts), for both targets: `sipsak --headers 'User-Agent: …'` adds
 * a second User-Agent after its own, which Kamailio takes (it keeps the first) and sipd refuses
 * as a duplicate header (dropped unanswered on UDP).
 */
export function registerWithUserAgent(px: ProxyUnderTest, o: { user: string; password: string; contactPort: number; userAgent: string; expires?: number }): Promise<RegisterResult> {
  return register({ proxyHost: '127.0.0.1', proxyPort: px.sipPort, user: o.user, password: o.password, domain: '127.0.0.1', contactPort: o.contactPort, userAgent: o.userAgent, expires: o.expires ?? 60, timeoutMs: 5000 });
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
