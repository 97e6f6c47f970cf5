// Issue 3 interop: several proxies. Changes go to every node and report one row per node;
// reads merge with a node column; a stopped node gives a non-zero exit naming it while the
// others still get the change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { TARGET, makeProxyDb, sipctlWith, startProxy, stopAllProxies, targetMissing, type ProxyDb, type ProxyUnderTest } from './rpc-target.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';

after(stopAllProxies);

describe(`fan-out across two ${TARGET} instances`, () => {
  before(() => requireComponent(targetMissing() ?? toolsMissing('sipsak')));
  let pdb: ProxyDb;
  let edge1: ProxyUnderTest;
  let edge2: ProxyUnderTest;
  let dir: string;
  let sipctl: ReturnType<typeof sipctlWith>;
  const get = async (px: ProxyUnderTest, table: string, key: string) => (await px.rpc('htable.get', [table, key])).result?.item?.value;

  before(async () => {
    pdb = await makeProxyDb();
    assert.equal((await sipctlWith(pdb.env)(['add', '2002', 'An0ther-good-pw', '--store-plaintext'])).code, 0);
    [edge1, edge2] = await Promise.all([startProxy({ dbUrl: pdb.db.fullUrl }), startProxy({ dbUrl: pdb.db.fullUrl })]);
    dir = mkdtempSync(join(tmpdir(), 'sipctl-nodes-'));
    const cfg = join(dir, 'config.json');
    // edge2 over its unix socket (Kamailio: datagram; sipd: stream): fan-out does not care how each node is reached
    writeFileSync(cfg, JSON.stringify({ nodes: { edge1: edge1.rpcUrl, edge2: edge2.unixUrl } }), { mode: 0o600 });
    sipctl = sipctlWith({ ...pdb.env, SIPCTL_CONFIG: cfg });
  });
  after(async () => {
    await edge1?.stop();
    await edge2?.stop();
    await pdb?.db.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a change goes to every configured node, one row each; --node picks one', async () => {
    const r = await sipctl(['htable', 'sets', 'ipban', '203.0.113.50', 'x']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'edge1\tok\tOk. Key set to new value.\nedge2\tok\tOk. Key set to new value.\n');
    assert.equal(await get(edge1, 'ipban', '203.0.113.50'), 'x');
    assert.equal(await get(edge2, 'ipban', '203.0.113.50'), 'x');

    const one = await sipctl(['htable', 'seti', 'ipban', '203.0.113.51', '1', '--node', 'edge2']);
    assert.equal(one.stdout, 'Ok. Key set to new value.\n');
    assert.equal(await get(edge1, 'ipban', '203.0.113.51'), undefined);
    assert.equal(await get(edge2, 'ipban', '203.0.113.51'), 1);

    const unknown = await sipctl(['status', '--node', 'edge9']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no node named "edge9".*edge1, edge2/);
  });

  test('reads merge with a node column', async () => {
    const d = await sipctl(['htable', 'dump', 'ipban']);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.stdout.trim().split('\n').sort(), ['edge1\t203.0.113.50\tx\tstr', 'edge2\t203.0.113.50\tx\tstr', 'edge2\t203.0.113.51\t1\tint']);
    const j = JSON.parse((await sipctl(['htable', 'dump', 'ipban', '--json'])).stdout);
    assert.deepEqual(j.nodes.map((n: { node: string; ok: boolean; result: unknown[] }) => [n.node, n.ok, n.result.length]), [['edge1', true, 1], ['edge2', true, 2]]);
    const s = await sipctl(['status']);
    assert.equal(s.code, 0);
    const v = edge1.expect.version.source;
    assert.match(s.stdout, new RegExp(`^edge1\\tup\\t${v}\\t\\d+\\thttp [\\d.]+ ms\\nedge2\\tup\\t${v}\\t\\d+\\t${edge2.expect.unixTransport} [\\d.]+ ms\\n$`));
  });

  test('ul rm: the node without the AoR says so, the one with it removes it', async () => {
    const reg = await sipsakRegister({ user: '2002', password: 'An0ther-good-pw', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: edge1.sipPort, contactPort: 5095 });
    assert.ok(reg.ok, reg.output.slice(-500));
    const show = await sipctl(['ul', 'show', '2002']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^edge1\t2002\tsip:2002@127\.0\.0\.1:5095\t/);
    const rm = await sipctl(['ul', 'rm', '2002', '--yes']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'edge1\tok\tremoved 2002 (1 contact(s))\nedge2\tok\tnot registered here\n');
    const again = await sipctl(['ul', 'rm', '2002', '--yes']);
    assert.equal(again.code, 3, 'registered nowhere: not found');
  });

  test('one node stopped: non-zero exit naming it, the other still changed', async () => {
    await edge2.stop();
    const r = await sipctl(['htable', 'sets', 'ipban', '203.0.113.60', 'y']);
    assert.equal(r.code, 5);
    assert.match(r.stdout, /^edge1\tok\tOk\. Key set to new value\.\nedge2\terror\tcannot reach unix:.*\n$/);
    assert.match(r.stderr, /^sipctl: 1 of 2 nodes failed \(1 ok\) — edge2: cannot reach unix:/);
    assert.equal(await get(edge1, 'ipban', '203.0.113.60'), 'y');

    const j = await sipctl(['unban', '203.0.113.60', '--json']);
    assert.equal(j.code, 5);
    const out = JSON.parse(j.stdout);
    assert.deepEqual(out.nodes.map((n: { node: string; ok: boolean }) => [n.node, n.ok]), [['edge1', true], ['edge2', false]]);
    assert.equal(out.nodes[1].error.category, 'connection');
    const err = JSON.parse(j.stderr.trim());
    assert.equal(err.error.code, 'NODES_FAILED');
    assert.equal(err.error.exitCode, 5);
    assert.deepEqual(err.error.details.failed.map((f: { node: string }) => f.node), ['edge2']);
    assert.equal(await get(edge1, 'ipban', '203.0.113.60'), undefined, 'unbanned on the node that is up');

    const st = await sipctl(['status']);
    assert.equal(st.code, 5);
    assert.match(st.stdout, /^edge1\tup\t.*\nedge2\tDOWN\t\t\tcannot reach unix:/);

    const batch = await sipctl(['batch'], { input: 'htable seti ipban 203.0.113.61 1\n' });
    assert.equal(batch.code, 5);
    assert.match(batch.stdout, /^1\terror\tedge1: Ok\. Key set to new value\.; edge2: error: cannot reach/);
    assert.equal(await get(edge1, 'ipban', '203.0.113.61'), 1);
  });
});
