// Issue 12, "Registrations and the running proxy": ul add / ul show (everything) / ul rm AOR
// CONTACT / online, stats, ps, shv get|set, htable setex|stats and uacreg, run as the built
// sipctl against a live proxy — Kamailio 5.6 (with the issue-12 modules: uac with reg_db_url,
// pv shared variables) by default, sipd in the *-sipd twin (see rpc-target.ts). The proxy's own
// RPC reply, fetched without sipctl, is the oracle for what it holds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ISSUE12_MODULES } from '../helpers/kamailio-modules.js';
import { requireComponent } from '../helpers/require.js';
import { TARGET, makeProxyDb, oneLine, sipctlWith, startProxy, stopAllProxies, targetMissing, type ProxyDb, type ProxyUnderTest } from './rpc-target.js';

after(stopAllProxies);

const PASSWORD = 'Carrier-s3cret-pw';

describe(`registrations and the running proxy against ${TARGET}`, () => {
  before(() => requireComponent(targetMissing()));
  let pdb: ProxyDb;
  let px: ProxyUnderTest;
  let sipctl: ReturnType<typeof sipctlWith>;

  before(async () => {
    pdb = await makeProxyDb();
    px = await startProxy({
      dbUrl: pdb.db.fullUrl,
      extraModules: [...ISSUE12_MODULES, 'modparam("pv", "shvset", "maint=i:0")', 'modparam("pv", "shvset", "motd=s:hello")'],
      sipdModules: { pv: { shvset: 'maint=i:0,motd=s:hello' } },
    });
    sipctl = sipctlWith({ ...pdb.env, SIPCTL_RPC: px.rpcUrl });
  });
  after(async () => {
    await px?.stop();
    await pdb?.db.drop();
  });

  test('ul add / ul show without an AoR / online / ul rm AOR CONTACT, each checked with ul.lookup', async () => {
    const a = await sipctl(['ul', 'add', '2001', 'sip:2001@192.0.2.1:5060', '--expires', '3600', '--q', '0.5']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, 'added sip:2001@192.0.2.1:5060 to 2001 (expires in 3600 s, q=0.5)\n');
    const b = await sipctl(['ul', 'add', 'sip:2001@127.0.0.1', 'sip:2001@192.0.2.2:5060']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, 'added sip:2001@192.0.2.2:5060 to 2001@127.0.0.1 (permanent, q=1)\n');
    const look = (await px.rpc('ul.lookup', ['location', '2001'])).result;
    const byAddr = Object.fromEntries(look.Contacts.map((c: any) => [c.Contact.Address, c.Contact]));
    assert.deepEqual(Object.keys(byAddr).sort(), ['sip:2001@192.0.2.1:5060', 'sip:2001@192.0.2.2:5060']);
    assert.equal(byAddr['sip:2001@192.0.2.2:5060'].Expires, 'permanent');
    assert.ok(byAddr['sip:2001@192.0.2.1:5060'].Expires > 3500 && byAddr['sip:2001@192.0.2.1:5060'].Expires <= 3600);
    assert.equal(byAddr['sip:2001@192.0.2.1:5060'].Q, 0.5);

    const all = await sipctl(['ul', 'show', '--json']);
    assert.equal(all.code, 0, all.stderr);
    const rows = JSON.parse(all.stdout).nodes[0].result as Array<{ aor: string; contact: string; expires: unknown }>;
    assert.deepEqual(rows.filter((r) => r.aor === '2001').map((r) => r.contact).sort(), ['sip:2001@192.0.2.1:5060', 'sip:2001@192.0.2.2:5060']);
    const text = await sipctl(['ul', 'show']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^2001\tsip:2001@192\.0\.2\.2:5060\tpermanent\t/m);

    const on = await sipctl(['online', '--json']);
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(JSON.parse(on.stdout).nodes[0].result, [{ aor: '2001', contacts: 2 }]);
    assert.equal((await sipctl(['online'])).stdout, '2001\t2\n');

    const missing = await sipctl(['ul', 'rm', '2001', 'sip:2001@192.0.2.9', '--yes']);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(oneLine(missing.stderr), /^sipctl: 2001 has no contact sip:2001@192\.0\.2\.9 \(see `sipctl ul show 2001`\)$/);
    const nobody = await sipctl(['ul', 'rm', '2999', 'sip:2999@192.0.2.9', '--yes']);
    assert.equal(nobody.code, 3, nobody.stderr);
    const dry = await sipctl(['ul', 'rm', '2001', 'sip:2001@192.0.2.1:5060', '--dry-run']);
    assert.equal(dry.stdout, 'would remove sip:2001@192.0.2.1:5060 from 2001\n');
    const rm = await sipctl(['ul', 'rm', '2001', 'sip:2001@192.0.2.1:5060', '--yes']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'removed sip:2001@192.0.2.1:5060 from 2001\n');
    const after1 = (await px.rpc('ul.lookup', ['location', '2001'])).result;
    assert.deepEqual(after1.Contacts.map((c: any) => c.Contact.Address), ['sip:2001@192.0.2.2:5060']);

    // bad input: one line, exit 2, nothing sent
    for (const args of [['ul', 'add', '2001', 'mailto:x@example.com'], ['ul', 'add', '2001', 'sip:2001@192.0.2.3', '--q', '2'], ['ul', 'add', '2001', 'sip:2001@192.0.2.3', '--expires', '-5']]) {
      const bad = await sipctl(args);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      oneLine(bad.stderr);
    }
    assert.equal((await px.rpc('ul.lookup', ['location', '2001'])).result.Contacts.length, 1);
    assert.equal((await sipctl(['ul', 'rm', '2001', '--yes'])).code, 0);
    assert.deepEqual(JSON.parse((await sipctl(['online', '--json'])).stdout).nodes[0].result, []);
  });

  test('stats: typed rows equal to stats.get_statistics; a bare word is a group, then a name', async () => {
    const s = await sipctl(['stats', 'usrloc', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const rows = JSON.parse(s.stdout).nodes[0].result as Array<{ group: string; name: string; value: number }>;
    const oracle = ((await px.rpc('stats.get_statistics', ['usrloc:'])).result as string[]).map((l) => l.split(/ = /));
    assert.deepEqual(rows.map((r) => [`${r.group}:${r.name}`, r.value]), oracle.map(([k, v]) => [k, Number(v)]));
    assert.ok(rows.some((r) => r.name === 'registered_users' && typeof r.value === 'number'));
    const one = await sipctl(['stats', 'core:rcv_requests', 'rcv_requests']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^core\trcv_requests\t\d+\n$/);
    const everything = await sipctl(['stats']);
    assert.equal(everything.code, 0, everything.stderr);
    assert.ok(everything.stdout.split('\n').length > 10);
    const none = await sipctl(['stats', 'no_such_group']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    const bad = await sipctl(['stats', 'a b']);
    assert.equal(bad.code, 2, bad.stderr);
    oneLine(bad.stderr);
  });

  test('ps lists core.psx', async () => {
    const p = await sipctl(['ps', '--json']);
    assert.equal(p.code, 0, p.stderr);
    const rows = JSON.parse(p.stdout).nodes[0].result;
    const oracle = (await px.rpc('core.psx')).result as Array<{ IDX: number; PID: number; DSC: string }>;
    assert.deepEqual(rows, oracle.map((o) => ({ idx: o.IDX, pid: o.PID, description: o.DSC })));
    if (px.kind === 'sipd') assert.equal(rows.length, 1);
    else assert.ok(rows.some((r: { description: string }) => /main process/.test(r.description)));
    assert.match((await sipctl(['ps'])).stdout, /^0\t\d+\t/);
  });

  test('shv get/set: declared variables only, type kept, int values checked before sending', async () => {
    const g = await sipctl(['shv', 'get', 'maint', '--json']);
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(JSON.parse(g.stdout).nodes[0].result, [{ name: 'maint', type: 'int', value: 0 }]);
    const set = await sipctl(['shv', 'set', 'maint', '5']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'Ok. Variable set to new value.\n');
    assert.deepEqual((await px.rpc('pv.shvGet', ['maint'])).result, { name: 'maint', type: 'int', value: 5 });
    const notInt = await sipctl(['shv', 'set', 'maint', 'x']);
    assert.equal(notInt.code, 2, notInt.stderr);
    assert.equal((await px.rpc('pv.shvGet', ['maint'])).result.value, 5, 'Kamailio would have stored 0');
    const str = await sipctl(['shv', 'set', 'motd', 'back at 10:00']);
    assert.equal(str.code, 0, str.stderr);
    assert.deepEqual((await px.rpc('pv.shvGet', ['motd'])).result, { name: 'motd', type: 'string', value: 'back at 10:00' });
    const unknown = await sipctl(['shv', 'set', 'nosuch', '1']);
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(oneLine(unknown.stderr), /^sipctl: no shared variable nosuch on this proxy \(only variables the proxy configuration declares exist/);
    assert.equal((await sipctl(['shv', 'get', 'nosuch'])).code, 3);
    // the whole list: Kamailio's JSON-RPC reply can carry only one of several (documented limit)
    const list = await sipctl(['shv', 'get', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const names = (JSON.parse(list.stdout).nodes[0].result as Array<{ name: string }>).map((v) => v.name).sort();
    if (px.kind === 'sipd') assert.deepEqual(names, ['maint', 'motd']);
    else assert.ok(names.length >= 1 && names.every((n) => ['maint', 'motd'].includes(n)), names.join());
    assert.equal((await sipctl(['shv', 'set', 'maint', '0'])).code, 0);
  });

  test('htable setex moves the expiry of an existing key only; htable stats matches htable.stats', async () => {
    assert.equal((await sipctl(['htable', 'sets', 'ipban', '192.0.2.77', '1'])).code, 0);
    const before = (await px.rpc('htable.get', ['ipban', '192.0.2.77'])).result.item.expire;
    const ex = await sipctl(['htable', 'setex', 'ipban', '192.0.2.77', '86400']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'Ok\n');
    const later = (await px.rpc('htable.get', ['ipban', '192.0.2.77'])).result.item.expire;
    assert.ok(later > before, `${later} should be after ${before}`);
    const gone = await sipctl(['htable', 'setex', 'ipban', '192.0.2.78', '60']);
    assert.equal(gone.code, 3, gone.stderr);
    assert.equal((await px.rpc('htable.get', ['ipban', '192.0.2.78'])).error?.message, "Key name doesn't exist in htable.");
    const badSecs = await sipctl(['htable', 'setex', 'ipban', '192.0.2.77', 'soon']);
    assert.equal(badSecs.code, 2, badSecs.stderr);

    const st = await sipctl(['htable', 'stats', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const rows = JSON.parse(st.stdout).nodes[0].result as Array<{ name: string; slots: number; all: number }>;
    assert.deepEqual(rows, (await px.rpc('htable.stats')).result);
    assert.ok(rows.find((r) => r.name === 'ipban')!.all >= 1);
    assert.equal((await sipctl(['htable', 'delete', 'ipban', '192.0.2.77', '--yes'])).code, 0);
  });

  test('uacreg add/show/rm in the database, the password from stdin only and never printed; dump/reload/refresh on the proxy', async () => {
    const noTty = await sipctl(['uacreg', 'add', 'gw1', 'carrier1@127.0.0.1', 'u1@carrier.example', 'sip:127.0.0.1:5999']);
    assert.equal(noTty.code, 2, noTty.stderr);
    oneLine(noTty.stderr);
    const add = await sipctl(['uacreg', 'add', 'gw1', 'carrier1@127.0.0.1', 'u1@carrier.example', 'sip:127.0.0.1:5999', '--password-stdin', '--expires', '600'], { input: `${PASSWORD}\n` });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'added uacreg gw1: u1@carrier.example via sip:127.0.0.1:5999 for carrier1@127.0.0.1\n');
    assert.ok(!add.stdout.includes(PASSWORD) && !add.stderr.includes(PASSWORD));
    const again = await sipctl(['uacreg', 'add', 'gw1', 'carrier1@127.0.0.1', 'u1@carrier.example', 'sip:127.0.0.1:5999', '--password-stdin'], { input: PASSWORD });
    assert.equal(again.code, 4, again.stderr);
    const badProxy = await sipctl(['uacreg', 'add', 'gw2', 'c2@127.0.0.1', 'u2@carrier.example', 'carrier.example', '--password-stdin'], { input: PASSWORD });
    assert.equal(badProxy.code, 2, badProxy.stderr);

    const db = await pdb.db.open();
    try {
      const [row] = await db.query<Record<string, unknown>>('SELECT l_username, r_domain, realm, auth_username, auth_password, expires FROM uacreg WHERE l_uuid = ?', ['gw1']);
      assert.deepEqual({ ...row }, { l_username: 'carrier1', r_domain: 'carrier.example', realm: 'carrier.example', auth_username: 'u1', auth_password: PASSWORD, expires: 600 });
    } finally {
      await db.close();
    }
    for (const args of [['uacreg', 'show'], ['uacreg', 'show', '--json'], ['uacreg', 'show', 'gw1']]) {
      const sh = await sipctl(args);
      assert.equal(sh.code, 0, sh.stderr);
      assert.ok(!sh.stdout.includes(PASSWORD), `${args.join(' ')} printed the password`);
      assert.match(sh.stdout, /\*{8}/);
    }
    assert.equal((await sipctl(['uacreg', 'show', 'nosuch'])).code, 3);

    if (px.kind === 'sipd') {
      // sipd makes no registrations of its own: one clear line, exit 6
      for (const [args, method] of [[['uacreg', 'dump'], 'uac.reg_dump'], [['uacreg', 'reload'], 'uac.reg_reload'], [['uacreg', 'refresh', 'gw1'], 'uac.reg_refresh']] as const) {
        const r = await sipctl([...args]);
        assert.equal(r.code, 6, `${args.join(" ")}: ${JSON.stringify(r)}`);
        assert.equal(oneLine(r.stderr), `sipctl: ${method}: method not supported by this proxy (Kamailio's uac module with reg_db_url does this; sipd makes no registrations of its own)`);
      }
    } else {
      const rl = await sipctl(['uacreg', 'reload']);
      assert.equal(rl.code, 0, rl.stderr);
      assert.equal(rl.stdout, 'uacreg table reloaded\n');
      const oracle = (await px.rpc('uac.reg_dump')).result as Array<{ l_uuid: string; auth_password: string }>;
      assert.deepEqual(oracle.map((r) => r.l_uuid), ['gw1']);
      assert.equal(oracle[0]!.auth_password, PASSWORD, 'the proxy loaded the password sipctl stored');
      const dump = await sipctl(['uacreg', 'dump', '--json']);
      assert.equal(dump.code, 0, dump.stderr);
      assert.ok(!dump.stdout.includes(PASSWORD), 'dump --json printed the password');
      const loaded = JSON.parse(dump.stdout).nodes[0].result;
      assert.deepEqual(loaded.map((r: any) => [r.lUuid, r.rUsername, r.rDomain, r.authProxy, r.expires, r.authPassword]), [['gw1', 'u1', 'carrier.example', 'sip:127.0.0.1:5999', 600, '********']]);
      const text = await sipctl(['uacreg', 'dump']);
      assert.match(text.stdout, /^gw1\tcarrier1@127\.0\.0\.1\tu1@carrier\.example\tsip:127\.0\.0\.1:5999\t600\t/);
      assert.ok(!text.stdout.includes(PASSWORD));
      const rf = await sipctl(['uacreg', 'refresh', 'gw1']);
      assert.equal(rf.code, 0, rf.stderr);
      assert.equal(rf.stdout, 'gw1 refreshed\n');
      const unknown = await sipctl(['uacreg', 'refresh', 'nosuch']);
      assert.equal(unknown.code, 3, unknown.stderr);
      // uac allows one reload per 150 s: said in one line, not "Failed to shift records"
      const tooSoon = await sipctl(['uacreg', 'reload']);
      assert.equal(tooSoon.code, 6, tooSoon.stderr);
      assert.match(oneLine(tooSoon.stderr), /^sipctl: the proxy refused the reload: Kamailio's uac module allows one uac\.reg_reload per 150 s \(retry later, or load one record now with `sipctl uacreg refresh L_UUID`\)$/);
    }
    const rm = await sipctl(['uacreg', 'rm', 'gw1', '--yes']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'removed uacreg gw1 (u1@carrier.example via sip:127.0.0.1:5999)\n');
    assert.equal((await sipctl(['uacreg', 'rm', 'gw1', '--yes'])).code, 3);
  });
});
