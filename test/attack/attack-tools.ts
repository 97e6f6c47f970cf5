/**
 * The real attack and load tools from Debian's packages — sipp (sip-tester), sipvicious
 * (svmap, svwar, svcrack) — driven against a sipd started by test/daemon/sipd-process.ts.
 * Every run has a hard timeout and is killed with its whole process group when it expires.
 *
 * Tool quirks handled here:
 * - sipp 3.6.1 computes the digest `uri` from remote_ip:remote_port (sip:127.0.0.1:5xxx), while
 *   the Request-URI is sip:DOMAIN; sipd checks that they match (RFC 2617 §3.2.2.5; Kamailio does
 *   not), so every REGISTER here passes `-auth_uri DOMAIN`, which makes them equal.
 * - sipvicious 0.3.3: svcrack and svwar ignore -b (their sockets bind 0.0.0.0, so the packets
 *   leave from 127.0.0.1, the proxy's own, pike-exempt address); srcbind.py fixes the bind.
 *   All three send `User-Agent: friendly-scanner` unless -c (compact headers), which sends no
 *   User-Agent at all: the way past a User-Agent filter.
 */
import { runBounded } from '../helpers/sip-tools.js';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import { findFreePort } from '../helpers/kamailio.js';
import { startSipd, type SipdProcess } from '../daemon/sipd-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** What a bounded tool run returns (the shared runner lives in test/helpers/sip-tools.ts). */
export type Proc = Awaited<ReturnType<typeof runBounded>>;
export { runBounded };

// ---------------------------------------------------------------- sipd and sipctl

/**
 * sipd exactly as shipped (default modules and scanner list, sipsak and sipvicious included), on
 * free ports; its state directory inside `dir`, so removing `dir` removes everything.
 */
export function startDefaultSipd(dbUrl: string, dir: string): Promise<SipdProcess> {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return startSipd({ dbUrl, stateDir, config: { modules: {} } });
}

/** The built sipctl against this database and this sipd's unix socket, with no user configuration. */
export function sipctlFor(dbUrl: string, sipd: () => SipdProcess | undefined) {
  return (args: string[], input?: string): Promise<RunResult> => {
    const s = sipd();
    return runSipctl(args, { env: isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_RPC: s ? `unix:${s.unixPath}` : undefined }), input, timeoutMs: 30_000 });
  };
}

// ---------------------------------------------------------------- sipp

/** REGISTER → 401 → REGISTER with credentials (field1) → 200, like the lab's reg_auth.xml; user, credentials, domain from the CSV. */
function registerScenario(expires: number, userAgent: string): string {
  const req = (cseq: number, auth: boolean) => `
      REGISTER sip:[field2] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field2]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[field2]>
      Call-ID: [call_id]
      CSeq: ${cseq} REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>${auth ? '\n      [field1]' : ''}
      Max-Forwards: 70
      Expires: ${expires}
      User-Agent: ${userAgent}
      Content-Length: 0
`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="REGISTER digest auth">
  <send retrans="500"><![CDATA[
${req(1, false)}
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
${req(2, true)}
  ]]></send>
  <recv response="200"/>
</scenario>
`;
}

const OPTIONS_SCENARIO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="OPTIONS flood">
  <send><![CDATA[

      OPTIONS sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:flood@[local_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      User-Agent: SIPp-flood
      Content-Length: 0

  ]]></send>
  <recv response="200" timeout="300"/>
</scenario>
`;

export interface SippResult extends Proc {
  created: number;
  successful: number;
  failed: number;
  /** messages retransmitted (UDP) */
  retransmissions: number;
}

function readStats(file: string): Pick<SippResult, 'created' | 'successful' | 'failed' | 'retransmissions'> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const rows = text.split('\n').filter((l) => l.trim()).map((l) => l.split(';'));
  if (rows.length < 2) return undefined;
  const [head, last] = [rows[0]!, rows[rows.length - 1]!];
  const get = (n: string) => Number(last[head.indexOf(n)]);
  return { created: get('TotalCallCreated'), successful: get('SuccessfulCall(C)'), failed: get('FailedCall(C)'), retransmissions: get('Retransmissions(C)') };
}

async function runSipp(scenario: string, csv: string | undefined, args: string[], timeoutMs: number): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sipd-sipp-'));
  try {
    writeFileSync(join(dir, 'scenario.xml'), scenario);
    if (csv !== undefined) writeFileSync(join(dir, 'users.csv'), csv);
    const full = ['-sf', join(dir, 'scenario.xml'), ...(csv !== undefined ? ['-inf', join(dir, 'users.csv')] : []), ...args, '-nostdin', '-trace_stat', '-stf', join(dir, 'stat.csv'), '-fd', '1', '-timeout', `${Math.max(1, Math.floor(timeoutMs / 1000) - 2)}s`];
    const r = await runBounded('sipp', full, { timeoutMs, cwd: dir });
    const s = readStats(join(dir, 'stat.csv')) ?? { created: 0, successful: 0, failed: 0, retransmissions: 0 };
    return { ...r, ...s };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SippRegisterOptions {
  sipPort: number;
  user: string;
  password: string;
  domain?: string;
  /** source address (default 127.0.0.1) */
  localIp?: string;
  /** source port, also the Contact's (default: a free one) */
  localPort?: number;
  /** Expires header; 0 removes the binding (default 300) */
  expires?: number;
  /** User-Agent header (default SIPp-attack-tests) */
  userAgent?: string;
  /** REGISTER transactions, one after another at `rate` per second (default 1) */
  calls?: number;
  rate?: number;
  timeoutMs?: number;
}

/** sipp REGISTER with digest auth; `successful` counts 200s for the authenticated REGISTER. */
export async function sippRegister(o: SippRegisterOptions): Promise<SippResult & { localPort: number }> {
  const domain = o.domain ?? '127.0.0.1';
  const localIp = o.localIp ?? '127.0.0.1';
  const localPort = o.localPort ?? (await findFreePort(localIp, { tcp: false }));
  const calls = o.calls ?? 1;
  const csv = `SEQUENTIAL\n${o.user};[authentication username=${o.user} password=${o.password}];${domain}\n`;
  const args = [`127.0.0.1:${o.sipPort}`, '-i', localIp, '-p', String(localPort), '-m', String(calls), '-r', String(o.rate ?? 1), '-l', '1', '-auth_uri', domain, '-recv_timeout', '3000'];
  const r = await runSipp(registerScenario(o.expires ?? 300, o.userAgent ?? 'SIPp-attack-tests'), csv, args, o.timeoutMs ?? 20_000);
  return { ...r, localPort };
}

export interface SippFloodOptions {
  sipPort: number;
  localIp: string;
  /** calls per second */
  rate: number;
  /** total calls (one OPTIONS each, not retransmitted) */
  calls: number;
  timeoutMs?: number;
}

/**
 * An OPTIONS flood from `localIp`: `calls` requests at `rate`/s, none retransmitted (-nr); each
 * call waits 300 ms for its 200, so `successful` = answered, `failed` = dropped.
 */
export async function sippFlood(o: SippFloodOptions): Promise<SippResult> {
  const localPort = await findFreePort(o.localIp, { tcp: false });
  const args = [`127.0.0.1:${o.sipPort}`, '-i', o.localIp, '-p', String(localPort), '-m', String(o.calls), '-r', String(o.rate), '-l', String(o.rate), '-nr'];
  return runSipp(OPTIONS_SCENARIO, undefined, args, o.timeoutMs ?? 20_000);
}

// ---------------------------------------------------------------- sipvicious

/**
 * Run svmap / svwar / svcrack (Debian's /usr/bin scripts). With `source`, through srcbind.py so the
 * requests come from that loopback address; the interpreter is the script's own (#! line).
 */
export async function sipvicious(tool: 'svmap' | 'svwar' | 'svcrack', args: string[], opts: { source?: string; timeoutMs?: number; home: string }): Promise<Proc> {
  const bin = realpathSync(join('/usr/bin', tool));
  const interpreter = /^#!\s*(\S+)/.exec(readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '')?.[1] ?? 'python3';
  // sipvicious keeps sessions under ~/.sipvicious: a private home
  const env = { PATH: process.env.PATH, HOME: opts.home, LANG: 'C.UTF-8' };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (opts.source === undefined) return runBounded(bin, args, { timeoutMs, env });
  return runBounded(interpreter, [join(HERE, 'srcbind.py'), opts.source, '2', bin, ...args], { timeoutMs, env });
}

/** The result rows svcrack / svwar print in their final table (between the === rule and the last +---). */
export function resultRows(output: string): string[][] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith('+='));
  if (start < 0) return [];
  return lines
    .slice(start + 1)
    .filter((l) => l.startsWith('|'))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}
