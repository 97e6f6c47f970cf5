// Issue 12 against a real Kamailio 5.6 with the domain, permissions (trusted), dispatcher,
// dialplan, group, alias_db, speeddial and uac modules loaded (test/helpers/kamailio-modules.ts),
// on a database made ONLY by `sipctl db init`, on MariaDB and SQLite. The proxy's own RPC
// replies (its oracle client, not sipctl's) say what it loaded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, ENGINES, type TestDb } from '../helpers/db.js';
import { kamailioMissing, startKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { ISSUE12_MODULES } from '../helpers/kamailio-modules.js';
import { requireComponent } from '../helpers/require.js';

for (const engine of ENGINES) {
  describe(`issue 12 commands against Kamailio 5.6 [${engine}]`, () => {
    let t: TestDb;
    let k: KamailioInstance;
    let sipctl: (...args: string[]) => ReturnType<typeof runSipctl>;

    before(async () => {
      requireComponent(kamailioMissing());
      // the database: nothing but `sipctl db init`
      t = await createTestDb(engine, { init: false });
      const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
      const init = await runSipctl(['db', 'init'], { env });
      assert.equal(init.code, 0, init.stderr);
      k = await startKamailio({ dbUrl: t.fullUrl, extraModules: ISSUE12_MODULES });
      const withRpc = { ...env, SIPCTL_RPC: k.rpcUrl };
      sipctl = (...args) => runSipctl(args, { env: withRpc });
    });
    after(async () => {
      await k?.stop();
      await t?.drop();
    });

    test('domain: add --reload is in domain.dump at once; rm --reload takes it out; dump and show agree', async () => {
      assert.deepEqual((await k.rpc('domain.dump')).result.domains ?? [], []);
      const add = await sipctl('domain', 'add', 'Sip.Example.com', '--did', 'ex', '--reload');
      assert.equal(add.code, 0, add.stderr);
      assert.equal(add.stdout, 'added domain sip.example.com (did ex)\ndomain table reloaded\n');
      assert.deepEqual((await k.rpc('domain.dump')).result.domains, [{ domain: 'sip.example.com', did: 'ex' }]);

      // without --reload the proxy does not see it until `domain reload`
      assert.equal((await sipctl('domain', 'add', '2001:db8::1')).code, 0);
      assert.equal((await k.rpc('domain.dump')).result.domains.length, 1);
      const dryReload = await sipctl('domain', 'reload', '--dry-run');
      assert.equal(dryReload.stdout, 'would reload the domain table (1 domain(s) loaded now)\n');
      assert.equal((await sipctl('domain', 'reload')).code, 0);
      const loaded = (await k.rpc('domain.dump')).result.domains.map((d: { domain: string; did: string }) => [d.domain, d.did]).sort();
      assert.deepEqual(loaded, [['[2001:db8::1]', '[2001:db8::1]'], ['sip.example.com', 'ex']]);

      const dump = await sipctl('domain', 'dump', '--json');
      assert.equal(dump.code, 0, dump.stderr);
      assert.deepEqual(JSON.parse(dump.stdout).nodes[0].result, [{ domain: '[2001:db8::1]', did: '[2001:db8::1]', attrs: [] }, { domain: 'sip.example.com', did: 'ex', attrs: [] }]);
      const show = JSON.parse((await sipctl('domain', 'show', '--json')).stdout);
      assert.deepEqual(show.map((r: { domain: string }) => r.domain), ['[2001:db8::1]', 'sip.example.com']);

      const rm = await sipctl('domain', 'rm', 'sip.example.com', '--yes', '--reload');
      assert.equal(rm.code, 0, rm.stderr);
      assert.deepEqual((await k.rpc('domain.dump')).result.domains, [{ domain: '[2001:db8::1]', did: '[2001:db8::1]' }]);
    });

    test('trusted: add --reload is in the proxy at once (kamcmd permissions.trustedDump), rm --reload takes it out', async () => {
      const a = await sipctl('trusted', 'add', '192.0.2.20', 'udp', '^sip:.*@carrier\\.example$', 'carrier-a', '--priority', '5', '--reload');
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout, 'trusted 192.0.2.20 (udp) From ~ ^sip:.*@carrier\\.example$ tag carrier-a\nReload OK\n');
      const b = await sipctl('trusted', 'add', '2001:db8::20', 'tcp', '--ruri-pattern', '^sip:\\+49', '--reload');
      assert.equal(b.code, 0, b.stderr);
      // kamcmd (binrpc) is the oracle: it lists every loaded entry
      const dump = (await k.kamcmd('permissions.trustedDump')).stdout;
      assert.match(dump, /ip: 192\.0\.2\.20\s+proto: 1\s+pattern: \^sip:\.\*@carrier\\\.example\$\s+ruri_pattern: NULL\s+tag: carrier-a\s+priority: 5/);
      assert.match(dump, /ip: 2001:db8::20\s+proto: 2\s+pattern: NULL\s+ruri_pattern: \^sip:\\\+49\s+tag: NULL\s+priority: 0/);
      // over JSON-RPC Kamailio repeats the keys of one object: sipctl sees what JSON can carry
      const sd = await sipctl('trusted', 'dump', '--json');
      assert.equal(sd.code, 0, sd.stderr);
      const seen = JSON.parse(sd.stdout).nodes[0].result as Array<{ srcIp: string }>;
      assert.ok(seen.length >= 1 && seen.every((e) => ['192.0.2.20', '2001:db8::20'].includes(e.srcIp)), sd.stdout);

      const rm = await sipctl('trusted', 'rm', '192.0.2.20', '--yes', '--reload');
      assert.equal(rm.code, 0, rm.stderr);
      const after = (await k.kamcmd('permissions.trustedDump')).stdout;
      assert.doesNotMatch(after, /192\.0\.2\.20/);
      assert.match(after, /2001:db8::20/);
    });

    test('dispatcher: add --reload is in dispatcher.list; set-state changes the loaded state; rm --reload; empty dump is []', async () => {
      const empty = await sipctl('dispatcher', 'dump', '--json');
      assert.equal(empty.code, 0, empty.stderr);
      assert.deepEqual(JSON.parse(empty.stdout).nodes[0].result, []);
      const a = await sipctl('dispatcher', 'add', '1', 'sip:192.0.2.30:5060', '--attrs', 'weight=50', '--description', 'gateway A', '--reload');
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout, 'added sip:192.0.2.30:5060 to dispatcher set 1\nOk. Dispatcher successfully reloaded.\n');
      const list = (await k.rpc('dispatcher.list')).result;
      assert.equal(list.NRSETS, 1);
      assert.deepEqual(list.RECORDS.map((r: any) => [r.SET.ID, r.SET.TARGETS.map((t: any) => [t.DEST.URI, t.DEST.FLAGS, t.DEST.ATTRS.BODY])]), [[1, [['sip:192.0.2.30:5060', 'AX', 'weight=50']]]]);

      const dry = await sipctl('dispatcher', 'set-state', 'inactive', '1', 'sip:192.0.2.30:5060', '--dry-run');
      assert.equal(dry.stdout, 'would set sip:192.0.2.30:5060 in set 1 inactive (now active)\n');
      const st = await sipctl('dispatcher', 'set-state', 'inactive', '1', 'sip:192.0.2.30:5060');
      assert.equal(st.code, 0, st.stderr);
      assert.equal((await k.rpc('dispatcher.list')).result.RECORDS[0].SET.TARGETS[0].DEST.FLAGS, 'IX');
      assert.equal((await sipctl('dispatcher', 'set-state', 'probing', '1', 'sip:192.0.2.30:5060')).code, 0);
      assert.match((await k.rpc('dispatcher.list')).result.RECORDS[0].SET.TARGETS[0].DEST.FLAGS, /^IP/);
      const dump = JSON.parse((await sipctl('dispatcher', 'dump', '--json')).stdout).nodes[0].result;
      assert.deepEqual(dump.map((d: any) => [d.setid, d.uri, d.state, d.probing, d.attrs]), [[1, 'sip:192.0.2.30:5060', 'inactive', true, 'weight=50']]);
      const notLoaded = await sipctl('dispatcher', 'set-state', 'active', '2', 'sip:192.0.2.99');
      assert.equal(notLoaded.code, 3, notLoaded.stderr);

      const rm = await sipctl('dispatcher', 'rm', '1', 'sip:192.0.2.30:5060', '--yes', '--reload');
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal((await k.rpc('dispatcher.list')).error?.message, 'No Destination Sets');
      // a second reload within Kamailio's ds_reload_delta (5 s) is waited out, not failed
      const again = await sipctl('dispatcher', 'reload');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, 'Ok. Dispatcher successfully reloaded.\n');
      assert.match(again.stderr, /ongoing reload/);
    });

    test('dialplan: rules added with --reload translate in Kamailio (dialplan.translate is the oracle); dump, rm', async () => {
      assert.equal((await sipctl('dialplan', 'dump', '1')).code, 3, 'nothing loaded yet');
      const a = await sipctl('dialplan', 'add', '1', '^00([1-9][[:digit:]]+)$', '+\\1', '--attrs', 'intl', '--priority', '1');
      assert.equal(a.code, 0, a.stderr);
      const b = await sipctl('dialplan', 'add', '1', '^0([1-9][0-9]+)$', '+49\\1', '--priority', '2', '--reload');
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stdout, /\ndialplan table reloaded\n$/);
      const c = await sipctl('dialplan', 'add', '2', '911', '112', '--match-op', 'equal', '--reload');
      assert.equal(c.code, 0, c.stderr);

      assert.deepEqual((await k.rpc('dialplan.translate', [1, '004930123'])).result, { Output: '+4930123', Attributes: 'intl' });
      assert.deepEqual((await k.rpc('dialplan.translate', [1, '030123'])).result, { Output: '+4930123', Attributes: null });
      assert.deepEqual((await k.rpc('dialplan.translate', [2, '911'])).result, { Output: '112', Attributes: null });
      const tr = await sipctl('dialplan', 'translate', '1', '004930123', '--json');
      assert.equal(tr.code, 0, tr.stderr);
      assert.deepEqual(JSON.parse(tr.stdout).nodes[0].result, { input: '004930123', output: '+4930123', attrs: 'intl' });
      const none = await sipctl('dialplan', 'translate', '1', 'abc');
      assert.equal(none.code, 3, none.stderr);
      assert.equal((await sipctl('dialplan', 'translate', '7', '1')).code, 3);

      // what the proxy loaded equals what the database holds
      const dump = JSON.parse((await sipctl('dialplan', 'dump', '1', '--json')).stdout).nodes[0].result;
      const show = JSON.parse((await sipctl('dialplan', 'show', '1', '--json')).stdout);
      const key = (r: any) => [r.pr, r.matchOp, r.matchExp, r.substExp, r.replExp, r.attrs];
      assert.deepEqual(dump.map(key), show.map(key));
      assert.equal(dump.length, 2);

      const rm = await sipctl('dialplan', 'rm', '1', '^0([1-9][0-9]+)$', '--yes', '--reload');
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal((await k.rpc('dialplan.dump', [1])).result.ENTRIES.length, 1);
    });
  });
}
