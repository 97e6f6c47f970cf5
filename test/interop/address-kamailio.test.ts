// Issue 3 interop: sipctl address against the database a live proxy loads from, and what the
// proxy then holds (permissions.addressDump / subnetDump), including Kamailio's refusal of
// back-to-back reloads ("500 ongoing reload"), which sipctl waits out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TARGET, makeProxyDb, oneLine, sipctlWith, startProxy, stopAllProxies, targetMissing, type ProxyDb, type ProxyUnderTest } from './rpc-target.js';
import { requireComponent } from '../helpers/require.js';

after(stopAllProxies);

describe(`sipctl address against ${TARGET}`, () => {
  before(() => requireComponent(targetMissing()));
  let pdb: ProxyDb;
  let px: ProxyUnderTest;
  let sipctl: ReturnType<typeof sipctlWith>;

  before(async () => {
    pdb = await makeProxyDb();
    px = await startProxy({ dbUrl: pdb.db.fullUrl });
    sipctl = sipctlWith({ ...pdb.env, SIPCTL_RPC: px.rpcUrl });
  });
  after(async () => {
    await px?.stop();
    await pdb?.db.drop();
  });

  test('add --reload: the proxy holds the entry at once; subnets show in address dump too', async () => {
    const r = await sipctl(['address', 'add', '200', '10.0.1.102', '32', '5060', 'Carrier IP address', '--reload']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'added 10.0.1.102/32 port 5060 to group 200 (Carrier IP address)\nReload OK\n');
    const dump = (await px.rpc('permissions.addressDump')).result;
    assert.deepEqual(dump.map((e: { group: number; item: object }) => ({ group: e.group, ...e.item })), [{ group: 200, ip: '10.0.1.102', port: 5060, tag: 'Carrier IP address' }]);

    // without --reload the proxy does not see it yet (what kamctl's INFO line warns about)
    const sub = await sipctl(['address', 'add', '1', '192.168.0.0', '16']);
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stderr, /sipctl address reload/);
    assert.deepEqual((await px.rpc('permissions.subnetDump')).result, []);
    const re = await sipctl(['address', 'reload', '--json']);
    assert.equal(re.code, 0, re.stderr);
    assert.equal(JSON.parse(re.stdout).nodes[0].result.message, 'Reload OK');
    assert.deepEqual((await px.rpc('permissions.subnetDump')).result.map((e: { group: number; item: { ip: string; mask: number } }) => [e.group, e.item.ip, e.item.mask]), [[1, '192.168.0.0', 16]]);

    const d = await sipctl(['address', 'dump']);
    assert.equal(d.stdout, '1\t192.168.0.0\t16\t0\t\tsubnet\n200\t10.0.1.102\t32\t5060\tCarrier IP address\taddress\n');
    const show = await sipctl(['address', 'show', '--json']);
    assert.deepEqual(JSON.parse(show.stdout).map((r: { grp: number; ip: string }) => [r.grp, r.ip]), [[1, '192.168.0.0'], [200, '10.0.1.102']]);
  });

  test('a second reload within ~5 s is waited out, with a warning, not failed', async () => {
    // Kamailio refuses a reload within ~5 s of the last one: make that last one now (the previous
    // test's can be older than 5 s on a loaded machine), so sipctl's meets the refusal
    await px.rpc('permissions.addressReload');
    const second = await sipctl(['address', 'reload']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'Reload OK\n');
    // waited out: refused at least once, then retried until Kamailio took it
    const waited = /^sipctl: warning: the proxy was still busy with an earlier reload \("ongoing reload"\); waited [\d.]+ s and retried (\d+) time\(s\)$/.exec(oneLine(second.stderr));
    assert.ok(waited && Number(waited[1]) >= 1, second.stderr);
    // a budget too short for the proxy's 5 s: the refusal itself, exit 6
    const short = await sipctl(['address', 'reload', '--timeout', '1000']);
    assert.equal(short.code, 6);
    assert.match(oneLine(short.stderr), /ongoing reload \(code 500\)/);
    // the JSON carries the warning
    const third = await sipctl(['address', 'reload', '--json']);
    assert.equal(third.code, 0, third.stderr);
    const j = JSON.parse(third.stdout);
    assert.ok(j.nodes[0].result.retries > 0);
    assert.match(j.warnings[0], /ongoing reload/);
  });

  test('validation, conflict, dry run, rm of missing, rm --reload', async () => {
    for (const args of [['300', '300.1.1.1'], ['300', '10.0.0.1', '33'], ['300', '::1', '129'], ['300', '10.0.0.1', '32', '70000'], ['x', '10.0.0.1'], ['300', '10.0.0.0/8']]) {
      const r = await sipctl(['address', 'add', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      oneLine(r.stderr);
    }
    const dup = await sipctl(['address', 'add', '200', '10.0.1.102', '32', '5060']);
    assert.equal(dup.code, 4);
    assert.match(oneLine(dup.stderr), /already has 10\.0\.1\.102\/32 port 5060/);
    const dry = await sipctl(['address', 'add', '5', '2001:DB8::7', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).entries, [{ grp: 5, ip: '2001:db8::7', mask: 128, port: 0, tag: null }]);
    assert.equal(JSON.parse((await sipctl(['address', 'show', '--group', '5', '--json'])).stdout).length, 0);
    const missing = await sipctl(['address', 'rm', '200', '10.9.9.9']);
    assert.equal(missing.code, 3);

    await new Promise((r) => setTimeout(r, 100));
    const rm = await sipctl(['address', 'rm', '200', '10.0.1.102', '--reload', '--yes']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^removed 10\.0\.1\.102\/32 port 5060 from group 200\nReload OK\n$/);
    assert.deepEqual((await px.rpc('permissions.addressDump')).result, []);
  });
});
