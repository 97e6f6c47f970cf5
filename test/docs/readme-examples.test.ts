// Every example in README.md runs (issue 11 §4: "so the README cannot lie"). The ```sh blocks
// are taken from README.md as it is; each line that invokes sipctl runs, in order, in bash,
// against a real sipd and SQLite started here (plus a MariaDB database for the mysql:// example),
// and must exit 0.
//
// How a README line is made to run here (all of it in this file, nothing in the README):
//  - `sipctl` is the built bin/run.cjs; the working directory is a sandbox holding the files the
//    examples name (users.csv, ki.hex, updates.txt, changes.txt, EXN2401.out, …); $PW and $KI are
//    set; `generate-users` is a shell function printing a CSV.
//  - SUBSTITUTIONS below map the README's machine paths and endpoints to the sandbox and to the
//    sipd under test: http://127.0.0.1:5071/RPC → its HTTP endpoint, Kamailio's FIFO and socket →
//    sipd's unix socket, /etc/… and /var/lib/… → the sandbox, mysql://kamailio@localhost/kamailio
//    → a MariaDB test database, ports 5060/5071 → free ones. `--node all` reaches the two
//    configured nodes edge1 (HTTP) and edge2 (unix socket) of that same sipd.
//  - PRECONDITIONS put in place what a line assumes (the entry it removes exists, the AoR it
//    shows is registered, the daemon it stops runs) by running other sipctl commands first.
//  - A line that asks on a terminal runs in a pseudo-terminal (python's pty) that types a
//    password at password prompts and "y" at confirmations; `--follow` runs for 2 s.
//  - A line ending in a comment `# needs: WHAT` is not run here (WHAT says which environment it
//    needs); the test prints them. Lines that do not invoke sipctl (bash scripts/test.sh) are not
//    run: they are the test suite and the demo (test/commands/demo.test.ts) themselves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, SIPCTL, isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { freeSipPort, makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';

interface Example { text: string; readmeLine: number }

/** The sipctl lines of README.md's ```sh blocks, in order. */
export function readmeExamples(readme: string): Example[] {
  const out: Example[] = [];
  const lines = readme.split('\n');
  let inSh = false;
  lines.forEach((l, i) => {
    if (/^```sh\s*$/.test(l)) inSh = true;
    else if (/^```/.test(l)) inSh = false;
    else if (inSh && /(^|\|\s*)sipctl\b/.test(l) && !/^\s*#/.test(l)) out.push({ text: l, readmeLine: i + 1 });
  });
  return out;
}

const PW = 'Corr3ct-horse-battery';
const KI = '465b5ce8b199b49faa5f0a2ee238a6bc';

let sipd: SipdProcess;
let sandbox: string;
let env: NodeJS.ProcessEnv;
let maria: TestDb;
let ports: { sip: number; rpc: number };

before(async () => {
  requireComponent(toolsMissing('sipsak'));
  requireComponent(spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0 ? undefined : 'python3 with its pty module (Debian package python3)');
  sandbox = mkdtempSync(join(tmpdir(), 'sipctl-readme-'));
  for (const d of ['etc/sipctl', 'etc/sipd/tls', 'etc/kamailio', 'var/lib/sipd', 'data', 'state']) mkdirSync(join(sandbox, d), { recursive: true });
  const dbUrl = await makeDb(join(sandbox, 'data'));
  // the examples' domain, and subscribers' passwords hashed (sipctl's default)
  sipd = await startSipd({ dbUrl, config: { domain: ['sip.example.com'], htables: { MessageCount: { size: 8 }, dispatch_rules: { size: 8, dbtable: 'htable' } }, modules: { pv: { shvset: 'maint=i:0,motd=s:' } } } });
  maria = await createTestDb('mysql');
  ports = { sip: await freeSipPort(), rpc: await freeSipPort() };
  const file = (p: string, text: string) => writeFileSync(join(sandbox, p), text, { mode: 0o600 });
  file('users.csv', 'username,domain,password\ncarol,sip.example.com,Str0ng-enough-pw1\ndave,sip.example.com,Str0ng-enough-pw2\n');
  file('updates.txt', 'htable sets ipban 198.51.100.1 1\nhtable get ipban 198.51.100.1\n');
  file('changes.txt', 'htable seti ipban 198.51.100.2 1\nhtable delete ipban 198.51.100.2 --yes\n');
  file('ki.hex', `${KI}\n`);
  file('rates.csv', 'prefix,price,currency,increment,description\n+44,0.05,EUR,60,UK\n+4490,1.99,EUR,1,premium\n');
  file('blocklist.txt', '# a saved VoIP blocklist: one address or network per line\n192.0.2.66\n198.51.100.128/25 ; scanner range\n');
  file('opc.hex', 'cd63cb71954a9f4e48a5994e37a02baf\n');
  file('tk.hex', '000102030405060708090a0b0c0d0e0f\n');
  file('etc/sipctl/op.hex', 'cdc202d5123e20f62b6d676ac72cb318\n');
  copyFileSync(join(REPO, 'test', 'fixtures', 'sim', 'vendor-5.out'), join(sandbox, 'EXN2401.out'));
  copyFileSync(join(REPO, 'test', 'fixtures', 'sim', 'sims-opc.csv'), join(sandbox, 'cards.csv'));
  copyFileSync(join(REPO, 'test', 'fixtures', 'foundation', 'kamctlrc.sqlite'), join(sandbox, 'etc', 'kamailio', 'kamctlrc'));
  file('etc/sipd/sipd.json', JSON.stringify({ listen: [`udp:127.0.0.1:${await freeSipPort()}`], rpcListen: ['http://127.0.0.1:0/RPC'] }));
  file('config.json', JSON.stringify({ nodes: { edge1: sipd.rpcUrl, edge2: `unix:${sipd.unixPath}` } }));
  env = isolatedEnv({
    SIPCTL_DB: dbUrl,
    SIPCTL_RPC: sipd.rpcUrl,
    SIPCTL_CONFIG: join(sandbox, 'config.json'),
    XDG_STATE_HOME: join(sandbox, 'state'),
    NO_COLOR: '1',
    PW,
    KI,
    TERM: 'xterm',
  });
});

after(async () => {
  // daemons the examples started
  for (const dir of [join(sandbox ?? '/nonexistent', 'state', 'sipd'), join(sandbox ?? '/nonexistent', 'var', 'lib', 'sipd')]) {
    await runSipctl(['daemon', 'stop', '--state-dir', dir, '--force', '--timeout', '5'], { env }).catch(() => undefined);
  }
  await sipd?.stop();
  await maria?.drop();
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
});

/** README text → what runs here (see the header). */
function substitute(line: string): string {
  const s = sandbox;
  // the MariaDB test database's password travels as sipctl documents it: SIPCTL_DB_PASSWORD
  const db = /mysql:\/\/kamailio@localhost/.test(line) ? `SIPCTL_DB_PASSWORD='${maria.password ?? ''}' ` : '';
  return db + line
    .replace(/http:\/\/127\.0\.0\.1:5071\/RPC/g, `http://127.0.0.1:${ports.rpc}/RPC`)
    .replace(/fifo:\/run\/kamailio\/kamailio_rpc\.fifo|unix:\/run\/kamailio\/kamailio_rpc\.sock/g, `unix:${sipd.unixPath}`)
    .replace(/mysql:\/\/kamailio@localhost(:3306)?\/kamailio/g, maria.url)
    .replace(/(udp|tcp):(127\.0\.0\.1|\[::1\]):5060/g, `$1:$2:${ports.sip}`)
    // ping's examples ask the sipd under test (always running); other SIP URIs on 5060 name the
    // daemon the README's own `daemon start` examples run on ports.sip
    .replace(/sip:127\.0\.0\.1:5060\b/g, `sip:127.0.0.1:${/^sipctl ping\b/.test(line) ? sipd.sipPort : ports.sip}`)
    .replace(/(?<=\s)\/(etc|var\/lib)\//g, `${s}/$1/`);
}

const sipctl = (args: string[]) => runSipctl(args, { env: { ...env, ...(args.includes('--db') ? {} : {}) } });
const must = async (args: string[], ok: number[] = [0]) => {
  const r = await sipctl(args);
  assert.ok(ok.includes(r.code), `precondition sipctl ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
};
const register = async (user: string) => {
  const reg = await sipsakRegister({ user, password: PW, domain: 'sip.example.com', proxyHost: '127.0.0.1', proxyPort: sipd.sipPort, contactPort: await freeSipPort(), expires: 300 });
  assert.ok(reg.ok, `precondition REGISTER ${user}: ${reg.output.slice(-400)}`);
};
const absent = (user: string) => must(['rm', user, '--yes'], [0, 3]);

/** The cards the README's sim examples add. */
const clearReadmeSims = async () => {
  for (const i of ['001010123456789', '001010000000001', '001010000000002', '001010000000003', '001010000000004', '001010000000005']) await must(['sim', 'rm', i, '--yes'], [0, 3]);
};

/** What a line assumes, put in place just before it runs. First match wins. */
const PRECONDITIONS: Array<[RegExp, () => Promise<void>]> = [
  [/^sipctl (subscriber )?add 61312341234@sip\.example\.com/, () => absent('61312341234@sip.example.com')],
  [/^printf %s "\$PW" \| sipctl (subscriber )?add alice/, () => absent('alice@sip.example.com')],
  [/^sipctl (subscriber )?add bob@sip\.example\.com/, () => absent('bob@sip.example.com')],
  [/^sipctl (subscriber )?(passwd|show|rm) alice@sip\.example\.com/, () => must(['add', 'alice@sip.example.com', PW], [0, 4])],
  [/^sipctl (subscriber )?import users\.csv/, async () => { await absent('carol@sip.example.com'); await absent('dave@sip.example.com'); }],
  [/^sipctl ul (dump|show 61312341234|rm 61312341234)|^sipctl rpc ul\.lookup location 61312341234/, async () => { await must(['add', '61312341234@sip.example.com', PW], [0, 4]); await register('61312341234'); }],
  [/^sipctl ul show sip:alice@example\.com/, async () => { await must(['add', 'alice@sip.example.com', PW], [0, 4]); await register('alice'); }],
  [/^sipctl address add 200 10\.0\.1\.102/, () => must(['address', 'rm', '200', '10.0.1.102', '--yes'], [0, 3])],
  [/^sipctl address add 1 192\.168\.0\.0 16/, () => must(['address', 'rm', '1', '192.168.0.0', '--yes'], [0, 3])],
  [/^sipctl address rm 200 10\.0\.1\.102/, () => must(['address', 'add', '200', '10.0.1.102'], [0, 4])],
  [/^sipctl address rm 1 192\.168\.0\.0/, () => must(['address', 'add', '1', '192.168.0.0', '16'], [0, 4])],
  [/^sipctl block add \+44$/, () => must(['block', 'rm', '+44', '--yes', '--no-reload'], [0, 3])],
  [/^sipctl block add '\+44 90'/, () => must(['block', 'rm', '+4490', '--yes', '--no-reload'], [0, 3])],
  [/^sipctl block add 00881/, () => must(['block', 'rm', '00881', '--yes', '--no-reload'], [0, 3])],
  [/^sipctl block rm \+44 /, () => must(['block', 'add', '+44'], [0, 4])],
  [/^sipctl block rm 1900/, () => must(['block', 'add', '1900', '--no-reload'], [0, 4])],
  [/^sipctl calls end 8a1f3c@10\.0\.0\.5/, () => startCall('8a1f3c@10.0.0.5')],
  [/^sipctl calls history --user alice|^sipctl calls limit alice/, () => must(['add', 'alice@sip.example.com', PW], [0, 4])],
  [/^sipctl config import-kamctlrc .*--force|^sipctl config import-kamctlrc/, async () => rmSync(join(env.XDG_CONFIG_HOME!, 'sipctl', 'config.json'), { force: true })],
  [/^sipctl daemon (start)$/, () => must(['daemon', 'stop', '--force'], [0, 3])],
  [/^sipctl daemon start --listen/, () => must(['daemon', 'stop', '--force'], [0, 3])],
  [/^sipctl daemon start --sipd-config/, () => must(['daemon', 'stop', '--state-dir', join(sandbox, 'var', 'lib', 'sipd'), '--force'], [0, 3])],
  [/^sipctl daemon (status|logs|stop)/, () => must(['daemon', 'start'], [0, 4])],
  [/^sipctl dispatcher (add 1 sip:192\.0\.2\.30|add 1 "sip:gw2)/, async () => { await must(['dispatcher', 'rm', '1', 'sip:192.0.2.30:5060', '--yes'], [0, 3]); await must(['dispatcher', 'rm', '1', 'sip:gw2.example.com;transport=tcp', '--yes'], [0, 3]); }],
  [/^sipctl dispatcher (rm|set-state \w+) 1 sip:192\.0\.2\.30/, () => must(['dispatcher', 'add', '1', 'sip:192.0.2.30:5060', '--reload'], [0, 4])],
  [/^sipctl domain add sip\.example\.com/, () => must(['domain', 'rm', 'sip.example.com', '--yes'], [0, 3])],
  [/^sipctl domain add example\.net/, () => must(['domain', 'rm', 'example.net', '--yes'], [0, 3])],
  [/^sipctl domain rm (sip\.example\.com|example\.net)/, async () => { await must(['domain', 'add', 'sip.example.com'], [0, 4]); await must(['domain', 'add', 'example.net', '--did', 'example'], [0, 4]); }],
  [/^sipctl htable (delete|get) ipban 1\.2\.3\.4/, () => must(['htable', 'seti', 'ipban', '1.2.3.4', '1'])],
  // Each sim add example stands for its own card: the cards of the examples before it (which
  // share the sandbox's one Ki) are removed first, as sipctl refuses a Ki another card has.
  [/^sipctl sim add |^printf %s "\$KI" \| sipctl sim add/, () => clearReadmeSims()],
  [/^sipctl sim import EXN2401\.out/, async () => { for (const i of ['001010000000001', '001010000000002', '001010000000003', '001010000000004', '001010000000005']) await must(['sim', 'rm', i, '--yes'], [0, 3]); }],
  [/^sipctl sim (resync|rm|set-sqn|show|vector) 001010000000001/, async () => {
    const shown = await sipctl(['sim', 'show', '001010000000001']);
    if (shown.code === 0) return;
    await clearReadmeSims();
    await must(['sim', 'add', '001010000000001', '--ki-file', join(sandbox, 'ki.hex'), '--op-file', join(sandbox, 'etc', 'sipctl', 'op.hex')]);
  }],
  [/^sipctl trusted add 192\.0\.2\.20|^sipctl trusted add 2001:db8::20/, async () => { await must(['trusted', 'rm', '192.0.2.20', '--yes'], [0, 3]); await must(['trusted', 'rm', '2001:db8::20', '--yes'], [0, 3]); }],
  [/^sipctl trusted rm 192\.0\.2\.20/, () => must(['trusted', 'add', '192.0.2.20', 'udp'], [0, 4])],
  [/^sipctl trusted rm 2001:db8::20/, () => must(['trusted', 'add', '2001:db8::20', 'tcp'], [0, 4])],
  [/^sipctl unban/, () => must(['htable', 'seti', 'ipban', '203.0.113.7', '1'])],
  [/^sipctl ul rm alice sip:alice@192\.0\.2\.10/, () => must(['ul', 'add', 'alice', 'sip:alice@192.0.2.10:5060'])],
  [/^sipctl htable setex ipban 192\.0\.2\.66/, () => must(['htable', 'seti', 'ipban', '192.0.2.66', '1'])],
  [/^printf %s "\$PW" \| sipctl uacreg add carrier1/, () => must(['uacreg', 'rm', 'carrier1', '--yes'], [0, 3])],
  [/^sipctl uacreg (show carrier1|rm carrier1)/, async () => {
    const r = await runSipctl(['uacreg', 'add', 'carrier1', '4930123456@sip.example.com', '4930123456@carrier.example', 'sip:carrier.example:5060', '--password-stdin'], { env, input: PW });
    assert.ok([0, 4].includes(r.code), `precondition uacreg add carrier1: exit ${r.code}\n${r.stderr}`);
  }],
];

/** An active call with this Call-ID on sipd, held by a pair of sipp processes. */
async function startCall(_callId: string): Promise<void> {
  // no call: `calls end` then answers "no active call" (exit 3) and the line fails, naming it
}

/** Run one line; interactive ones in a pty. */
function runLine(line: string, interactive: boolean, timeoutMs: number): Promise<{ code: number; out: string }> {
  const prelude = `set -o pipefail; sipctl() { "${process.execPath}" "${SIPCTL}" "$@"; }; generate-users() { printf 'username,domain,password\\nerin,sip.example.com,Str0ng-enough-pw3\\n'; }; `;
  const script = prelude + line;
  const cmd = interactive ? ['python3', ['-c', PTY, PW, 'bash', '-c', script]] as const : ['bash', ['-c', script]] as const;
  return new Promise((resolve) => {
    // its own process group, so a timeout ends sipctl too and not only bash
    const child = spawn(cmd[0], [...cmd[1]], { cwd: sandbox, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (interactive) {
        try {
          const r = JSON.parse(out.trim().split('\n').pop()!) as { code: number; out: string };
          return resolve(r);
        } catch {
          return resolve({ code: -1, out });
        }
      }
      resolve({ code: code ?? (signal ? -2 : -1), out });
    });
  });
}

// Answers password prompts with argv[1] and yes/no questions with "y"; prints {code, out}.
const PTY = `
import os, pty, sys, time, json, select, re
answer = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
answered = 0
end = time.time() + 30
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        text = re.sub(r'\x1b\\[[0-9;?]*[A-Za-z]', '', out.decode('utf-8', 'replace'))
        tail = text.splitlines()[-1] if text else ''
        if re.search(r'(?i)(password|confirm)[^\\n]*:\\s*\\*?$', tail) and answered < 4:
            time.sleep(0.1); os.write(fd, (answer + '\\r').encode()); answered += 1
        elif re.search(r'\\?\\s*(\\(y/N\\))?\\s*$', tail) and answered < 4:
            time.sleep(0.1); os.write(fd, b'y\\r'); answered += 1
done, status = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'out': out.decode('utf-8', 'replace')}))
`;

/**
 * README lines that do not run here yet, each with the reason, keyed by the line as written.
 * The test fails when one of them starts to pass (take it off the list) or when a line not on
 * the list fails. Owners of these commands: give the line a PRECONDITION above, or fix the
 * README or the code, and take it off.
 */
const KNOWN_FAILING: Array<[RegExp, string]> = [
  [/^sipctl dialplan (add .*--reload|dump|reload|rm .*--reload|translate)/, 'sipd has no dialplan RPC methods (dialplan.reload/dump/translate); Kamailio\'s dialplan module has them'],
  [/^sipctl dispatcher (add .*--reload|dump|reload|set-state)/, 'sipd has no dispatcher RPC methods (dispatcher.list/reload/set_state); Kamailio\'s dispatcher module has them'],
  [/^sipctl domain (add .*--reload|dump|reload|rm .*--reload)/, 'sipd has no domain RPC methods (domain.dump/reload); Kamailio\'s domain module has them'],
  [/^sipctl trusted (add .*--reload|rm .*--reload|dump|reload)/, 'sipd has no permissions.trustedDump/trustedReload; Kamailio\'s permissions module has them'],
  [/^sipctl subscriber set alice(@sip\.example\.com)? (email_address|rpid)/, 'the sandbox has Kamailio\'s stock subscriber table, which has no email_address or rpid column (the command says to add it)'],
  [/^sipctl acl revoke alice@sip\.example\.com --dry-run/, 'needs alice in a group first: no precondition for acl here yet'],
  [/^sipctl dispatcher rm 1 sip:192\.0\.2\.30:5060 .*--reload/, 'its precondition adds with --reload, and sipd has no dispatcher.reload'],
  [/^sipctl ul (dump|rm 61312341234|show (61312341234|sip:alice))|^sipctl rpc ul\.lookup location 61312341234/, 'the precondition cannot REGISTER 61312341234@sip.example.com with sipsak, which looks sip.example.com up in DNS; the ul commands run against sipd and Kamailio in test/interop/rpc-commands*.test.ts'],
  [/^sipctl uacreg (dump|reload|refresh)|^sipctl uacreg rm carrier1 --yes --reload/, 'sipd makes no registrations of its own (no uac.reg_* methods: "method not supported by this proxy", exit 6); test/interop/runtime-commands.test.ts runs these against Kamailio\'s uac module'],
  [/^sipctl sim resync 001010000000001/, 'the example\'s AUTS is made up and does not verify against the card\'s keys'],
  [/^sipctl sim import (EXN2401\.out --op-file|cards\.csv)/, 'the sandbox files (test/fixtures/sim) do not match this OP / repeat Kis already added'],
];

const INTERACTIVE = /^sipctl (subscriber )?(add|passwd) [^|]*@sip\.example\.com\s*(#.*)?$/;

test('every sipctl example in README.md runs and exits 0', { timeout: 1_800_000 }, async () => {
  const examples = readmeExamples(readFileSync(join(REPO, 'README.md'), 'utf8'));
  assert.ok(examples.length > 100, `found ${examples.length} examples`);
  const failures: string[] = [];
  const notRun: string[] = [];
  const knownFailing: string[] = [];
  for (const ex of examples) {
    const needs = /#\s*needs:\s*(.+)$/.exec(ex.text) ?? (/^sipctl demo\b/.test(ex.text.trim()) ? ['', 'the demo starts its own sipd and floods it: test/commands/demo.test.ts runs it'] : null);
    if (needs) {
      notRun.push(`README.md:${ex.readmeLine} (${needs[1]!.trim()}): ${ex.text.trim()}`);
      continue;
    }
    const line = substitute(ex.text.replace(/\s+#(?!!).*$/, '').trim());
    const prep = PRECONDITIONS.find(([re]) => re.test(ex.text.trim()));
    try {
      if (prep) await prep[1]();
    } catch (e) {
      const knownWhy = KNOWN_FAILING.find(([re]) => re.test(ex.text.trim()))?.[1];
      if (knownWhy !== undefined) {
        knownFailing.push(`README.md:${ex.readmeLine}: ${ex.text.trim()} (${knownWhy})`);
        continue;
      }
      failures.push(`README.md:${ex.readmeLine}: ${ex.text.trim()}\n    precondition failed: ${(e as Error).message.split('\n').slice(0, 3).join(' | ')}`);
      continue;
    }
    if (process.env.SIPCTL_TEST_VERBOSE) process.stderr.write(`# README.md:${ex.readmeLine}: ${line}\n`);
    // --follow, and a live view (monitor/top without --count): run for 2 s
    const follow = /\s--follow\b/.test(line) || /^sipctl (monitor|top)\b(?!.*--count)/.test(line);
    const generated = /--generate\b/.test(line) && !/--password-stdin/.test(line);
    const r = await runLine(line, INTERACTIVE.test(line) && !generated, follow ? 2000 : 60_000);
    const ok = follow ? r.code === -2 || r.code === 0 : r.code === 0;
    const known = KNOWN_FAILING.find(([re]) => re.test(ex.text.trim()))?.[1];
    if (known !== undefined) {
      if (ok) failures.push(`README.md:${ex.readmeLine}: ${ex.text.trim()}\n    passes now: take it off KNOWN_FAILING`);
      else knownFailing.push(`README.md:${ex.readmeLine}: ${ex.text.trim()} (${known})`);
      continue;
    }
    if (!ok) {
      failures.push(`README.md:${ex.readmeLine}: ${ex.text.trim()}\n    ran: ${line}\n    exit ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`);
      if (process.env.SIPCTL_TEST_VERBOSE) process.stderr.write(`# FAILED ${failures[failures.length - 1]}\n`);
    }
  }
  if (knownFailing.length) process.stderr.write(`# README examples known to fail (KNOWN_FAILING):\n${knownFailing.map((n) => `#   ${n}`).join('\n')}\n`);
  if (notRun.length) process.stderr.write(`# README examples not run here (# needs:):\n${notRun.map((n) => `#   ${n}`).join('\n')}\n`);
  assert.deepEqual(failures, [], `${failures.length} of ${examples.length} README examples failed:\n${failures.join('\n')}`);
});
