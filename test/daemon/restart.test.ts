// Registrations and bans survive a crash: sipd (built, as shipped) is SIGKILLed and started again
// on the same state directory and database. Registrations are written through to `location`
// before the 200 is sent, so even one made the instant before the kill is back; removals too.
// Bans (ipban from pike, userban lockouts from auth-db) come back from the periodically saved
// htable state with their original expiry, and are enforced again. The SIP client is sipd's own
// test UA (src/core/demo/sip-ua.ts), so this needs no SIP tools.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { flood, register } from '../../src/core/demo/sip-ua.js';
import { assertBuilt, makeDb, options, startSipd, statusOf, udpExchange, type SipdProcess } from './sipd-process.js';

const PW = { frank: 'Harbor-Violet-6620', gina: 'Copper-Meadow-1957' };
let dir: string;
let dbUrl: string;
const running: SipdProcess[] = [];

async function start(opts: { stateDir?: string; sipPort?: number } = {}): Promise<SipdProcess> {
  // sipd as shipped (default scanner list, pike, lockout), state saved every second
  const s = await startSipd({ dbUrl, stateDir: opts.stateDir, sipPort: opts.sipPort, config: { modules: {} } });
  running.push(s);
  return s;
}
const sipctl = (s: SipdProcess, args: string[]) => runSipctl(args, { env: isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_RPC: `unix:${s.unixPath}` }), timeoutMs: 30_000 });

type Contact = { Address: string; Expires: number; 'Call-ID': string; CSeq: number; 'User-Agent': string; Ruid: string };
async function contacts(s: SipdProcess): Promise<Contact[]> {
  const r = await sipctl(s, ['ul', 'dump', '--json', '--raw']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout).nodes[0].result as { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: Contact }> } }> } }> };
  return d.Domains.flatMap((x) => x.Domain.AoRs.flatMap((a) => a.Info.Contacts.map((c) => ({ ...c.Contact, aor: a.Info.AoR })))).sort((a, b) => a.Address.localeCompare(b.Address));
}
async function table(s: SipdProcess, name: string): Promise<Record<string, { value: number; expire: string }>> {
  const out: Record<string, { value: number; expire: string }> = {};
  const names = (await s.rpc<Array<{ slot: Array<{ name: string }> }>>('htable.dump', [name])).flatMap((e) => e.slot.map((x) => x.name));
  for (const n of names) {
    const { item } = await s.rpc<{ item: { value: number; expire: string } }>('htable.get', [name, n]);
    out[n] = { value: item.value, expire: item.expire };
  }
  return out;
}

before(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sipd-restart-'));
  dbUrl = await makeDb(dir);
  const s = { unixPath: '/nonexistent' } as SipdProcess;
  for (const [u, pw] of Object.entries(PW)) {
    const r = await sipctl(s, ['add', `${u}@127.0.0.1`, pw]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL and restart: registrations (even the last one before the kill) and bans are back, and enforced', async () => {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  const a = await start({ stateDir });
  const reg = (user: keyof typeof PW, o: { localPort: number; expires?: number; password?: string; localAddress?: string }) =>
    register({ proxyHost: '127.0.0.1', proxyPort: a.sipPort, user, password: o.password ?? PW[user], domain: '127.0.0.1', localAddress: o.localAddress, localPort: o.localPort, expires: o.expires ?? 600 });

  // two bindings for frank, then one of them removed again (Expires: 0)
  assert.ok((await reg('frank', { localPort: 6101 })).ok);
  assert.ok((await reg('frank', { localPort: 6102 })).ok);
  const removal = await reg('frank', { localPort: 6102, expires: 0 });
  assert.ok(removal.ok, removal.log.join('\n'));

  // a flood ban (pike → ipban) and a failed-auth lockout (auth-db → userban)
  const f = await flood({ proxyHost: '127.0.0.1', proxyPort: a.sipPort, localAddress: '127.0.0.2', count: 60, durationMs: 100 });
  assert.equal(f.replies, 16);
  for (let i = 0; i < 3; i++) assert.equal((await reg('frank', { localPort: 6103, localAddress: '127.0.0.4', password: `Wrong-${i}-guess` })).status, 401);
  assert.equal((await reg('frank', { localPort: 6103, localAddress: '127.0.0.4' })).status, 403, 'locked out, right password or not');

  const ipban = await table(a, 'ipban');
  const userban = await table(a, 'userban');
  assert.deepEqual(Object.keys(ipban), ['127.0.0.2']);
  assert.deepEqual(Object.keys(userban).sort(), ['127.0.0.4::*::auth_count', '127.0.0.4::*::last_auth', '127.0.0.4::frank::auth_count', '127.0.0.4::frank::last_auth']);
  // bans are saved periodically (stateSaveIntervalSec 1 in the test config): wait for that save
  const stateFile = join(a.stateDir, 'htable.state.json');
  const deadline = Date.now() + 5000;
  while (!(existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('127.0.0.4::frank::auth_count') && readFileSync(stateFile, 'utf8').includes('"127.0.0.2"'))) {
    assert.ok(Date.now() < deadline, 'htable state not saved within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }

  // the last registration, and the crash right after its 200: no time for any periodic save
  assert.ok((await reg('gina', { localPort: 6104 })).ok);
  const before = await contacts(a);
  assert.deepEqual(before.map((c) => c.Address), ['sip:frank@127.0.0.1:6101', 'sip:gina@127.0.0.1:6104']);
  const killed = await a.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');

  const b = await start({ stateDir: a.stateDir, sipPort: a.sipPort });
  const t = b.lines().find((l) => l.msg === 'usrloc: registrations loaded');
  assert.equal(t?.loaded, 2, JSON.stringify(t));

  // registrations: the same bindings (Call-ID, CSeq, ruid, User-Agent), the removed one still gone
  const afterRestart = await contacts(b);
  const stable = (cs: Contact[]) => cs.map(({ Expires: _e, ...rest }) => rest);
  assert.deepEqual(stable(afterRestart), stable(before));
  for (const [i, c] of afterRestart.entries()) assert.ok(c.Expires <= before[i]!.Expires && c.Expires > before[i]!.Expires - 30, `expiry kept, not renewed: ${c.Expires} vs ${before[i]!.Expires}`);
  const show = await sipctl(b, ['ul', 'show', 'gina']);
  assert.match(show.stdout, /^gina\tsip:gina@127\.0\.0\.1:6104\t/m);

  // bans: same values, same expiry times, shown by sipctl, and enforced
  assert.deepEqual(await table(b, 'ipban'), ipban);
  assert.deepEqual(await table(b, 'userban'), userban);
  assert.equal((await sipctl(b, ['htable', 'dump', 'ipban'])).stdout, '127.0.0.2\t1\tint\n');
  assert.equal(await udpExchange(b.sipPort, options(b.sipPort, { from: '127.0.0.2' }), { bindAddress: '127.0.0.2', timeoutMs: 500 }), undefined, 'still banned');
  const locked = await register({ proxyHost: '127.0.0.1', proxyPort: b.sipPort, user: 'frank', password: PW.frank, domain: '127.0.0.1', localAddress: '127.0.0.4', localPort: 6103 });
  assert.equal(locked.status, 403, 'still locked out');
  // and everyone else is served as before
  assert.equal(statusOf(await udpExchange(b.sipPort, options(b.sipPort))), 200);
  const frank = await register({ proxyHost: '127.0.0.1', proxyPort: b.sipPort, user: 'frank', password: PW.frank, domain: '127.0.0.1', localPort: 6101, expires: 600 });
  assert.ok(frank.ok, frank.log.join('\n'));
  assert.equal((await b.stop()).code, 0);
});
