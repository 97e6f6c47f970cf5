// The cluster module's location write (LOC_WRITE) against a real Redis, two nodes in this process:
// a binding is the AoR and the contact URI, whichever node wrote it (RFC 3261 §10.3). A write with
// `bindings` (usrloc's commit) removes the other nodes' bindings of the URIs it puts or un-registers,
// or all of the AoR's (Contact: *), in the same script — one round trip — and publishes their ruids
// on sipd:loc with the CSeq and time each had, which every node hears (onLocationGone). A give-back after Redis lost its data
// (no `bindings`) replaces nothing. The CSeq rule of Contact: * holds over all nodes; max_contacts
// does not count a binding the write replaces.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ClusterApi, ContactRecord, LocationGone } from '../../src/daemon/kernel/contracts.js';
import type { Logger } from '../../src/daemon/kernel/module.js';
import { createClusterModule } from '../../src/daemon/modules/cluster/cluster-module.js';
import { requireTools } from '../helpers/require.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function contact(ruid: string, uri: string, o: Partial<ContactRecord> = {}): ContactRecord {
  const now = Math.floor(Date.now() / 1000);
  return { aor: 'erin', contact: uri, expires: now + 300, q: -1, callId: 'c1', cseq: 1, userAgent: 'test', socket: 'udp:127.0.0.1:5060', ruid, regId: 0, lastModified: now, flags: 0, cflags: 0, methods: 0, ...o };
}

describe('LOC_WRITE: bindings by AoR and contact URI across nodes', () => {
  let dir: string;
  let redis: RedisServer;
  let client: Redis;
  const modules: Array<ReturnType<typeof createClusterModule>> = [];
  const heard: Array<Array<{ aor: string; ruids: string[] }>> = [[], []];
  /** what node A heard in full: the CSeq and time each removed contact had */
  const heardA: LocationGone[][] = [];
  let a: ClusterApi;
  let b: ClusterApi;

  before(() => requireTools('redis-server'));
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipd-loc-write-'));
    redis = await startRedis(dir);
    const url = `redis://127.0.0.1:${redis.port}/0`;
    for (const [i, ip] of ['127.0.0.1', '127.0.0.2'].entries()) {
      const m = createClusterModule({ url, nodeId: `node-${'ab'[i]}`, admission: 'closed', timeoutMs: 1000, dialogTtlSec: 90, listen: [`udp:${ip}:5060`] });
      modules.push(m);
      await m.init({ params: {}, log: quiet, now: Date.now, api: () => undefined });
      m.api!.onLocationGone!((aor, gone) => {
        heard[i]!.push({ aor, ruids: gone.map((g) => g.ruid) });
        if (i === 0) heardA.push(gone);
      });
    }
    [a, b] = modules.map((m) => m.api!) as [ClusterApi, ClusterApi];
    await until('both nodes up', () => a.up() && b.up());
    client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    client?.disconnect();
    for (const m of modules) await m.destroy();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const fields = async () => Object.keys(await client.hgetall('sipd:loc:erin')).sort();
  const nodesOf = async () => Object.values(await client.hgetall('sipd:loc:erin')).map((v) => (JSON.parse(v) as { node: string }).node).sort();
  const reset = async () => {
    await client.del('sipd:loc:erin');
    heard[0]!.length = 0;
    heard[1]!.length = 0;
    heardA.length = 0;
  };

  test('a URI put through B replaces A\'s binding of it, and both nodes hear which ruid went', async () => {
    await reset();
    assert.equal(await a.locationWrite('erin', [contact('a-1', 'sip:erin@192.0.2.1:5060', { cseq: 7, lastModified: 1_765_000_123 }), contact('a-2', 'sip:erin@192.0.2.2:5060')], [], { bindings: {} }), undefined);
    assert.deepEqual(await fields(), ['a-1', 'a-2']);
    assert.equal(await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.1:5060', { cseq: 2 })], [], { bindings: {} }), undefined);
    assert.deepEqual(await fields(), ['a-2', 'b-1'], 'one binding per URI; the other URI stays');
    assert.deepEqual(await nodesOf(), ['node-a', 'node-b']);
    for (const i of [0, 1]) await until(`node ${i} heard the takeover`, () => heard[i]!.length === 1);
    assert.deepEqual(heard[0], [{ aor: 'erin', ruids: ['a-1'] }]);
    assert.deepEqual(heardA, [[{ ruid: 'a-1', cseq: 7, lastModified: 1_765_000_123 }]], 'with the CSeq and time it had (a copy written again since stays)');
  });

  test('without bindings (a give-back) nothing is replaced', async () => {
    await reset();
    await a.locationWrite('erin', [contact('a-1', 'sip:erin@192.0.2.1:5060')], [], { bindings: {} });
    await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.1:5060')], [], { resyncing: true });
    assert.deepEqual(await fields(), ['a-1', 'b-1']);
  });

  test('an un-REGISTER through B of a URI only A holds removes it; a node removing only its own contacts publishes nothing', async () => {
    await reset();
    await a.locationWrite('erin', [contact('a-1', 'sip:erin@192.0.2.1:5060'), contact('a-2', 'sip:erin@192.0.2.2:5060')], [], { bindings: {} });
    assert.equal(await b.locationWrite('erin', [], [], { bindings: { unregister: ['sip:erin@192.0.2.1:5060'] }, cseq: { callId: 'c1', cseq: 2, uris: ['sip:erin@192.0.2.1:5060'], delaySec: 20 } }), undefined);
    assert.deepEqual(await fields(), ['a-2']);
    await until('A heard it', () => heard[0]!.length === 1);
    assert.deepEqual(heard[0], [{ aor: 'erin', ruids: ['a-1'] }]);
    await a.locationWrite('erin', [], ['a-2'], { bindings: {} });
    assert.equal(await client.exists('sipd:loc:erin'), 0);
    // messages on one channel arrive in order: the next one heard is this takeover's, not a-2's
    await a.locationWrite('erin', [contact('a-3', 'sip:erin@192.0.2.3:5060')], [], { bindings: {} });
    await b.locationWrite('erin', [contact('b-3', 'sip:erin@192.0.2.3:5060', { cseq: 2 })], [], { bindings: {} });
    await until('A heard the next one', () => heard[0]!.length === 2);
    assert.deepEqual(heard[0]![1], { aor: 'erin', ruids: ['a-3'] }, 'a node removing its own contacts tells nobody');
  });

  test('Contact: * through B: every node\'s bindings go, unless one of the same Call-ID has an equal or higher CSeq', async () => {
    await reset();
    await a.locationWrite('erin', [contact('a-1', 'sip:erin@192.0.2.1:5060', { cseq: 5 }), contact('a-2', 'sip:erin@192.0.2.2:5060', { callId: 'other', cseq: 50 })], [], { bindings: {} });
    await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.3:5060', { cseq: 5 })], [], { bindings: {} });
    assert.deepEqual(await b.locationWrite('erin', [], ['b-1'], { bindings: { all: true }, cseq: { callId: 'c1', cseq: 5, uris: [], delaySec: 20 } }), { cseq: 'lower' }, 'the same CSeq: refused, never a retransmission');
    assert.deepEqual(await fields(), ['a-1', 'a-2', 'b-1'], 'nothing removed');
    assert.equal(await b.locationWrite('erin', [], ['b-1'], { bindings: { all: true }, cseq: { callId: 'c1', cseq: 6, uris: [], delaySec: 20 } }), undefined);
    assert.equal(await client.exists('sipd:loc:erin'), 0, 'all gone (a-2 has another Call-ID: no CSeq rule)');
    await until('A heard it', () => heard[0]!.length === 1);
    assert.deepEqual(heard[0]![0]!.ruids.sort(), ['a-1', 'a-2'], 'only the other node\'s ruids are published');
  });

  test('max_contacts does not count the binding a write takes over', async () => {
    await reset();
    await a.locationWrite('erin', [contact('a-1', 'sip:erin@192.0.2.1:5060'), contact('a-2', 'sip:erin@192.0.2.2:5060')], [], { bindings: {} });
    assert.equal(await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.1:5060', { cseq: 2 })], [], { maxContacts: 2, bindings: {} }), undefined, 'a refresh through B at the limit');
    assert.deepEqual(await b.locationWrite('erin', [contact('b-2', 'sip:erin@192.0.2.3:5060', { cseq: 3 })], [], { maxContacts: 2, bindings: {} }), { contacts: 3 }, 'a new URI past the limit');
    assert.deepEqual(await fields(), ['a-2', 'b-1']);
  });

  test('with list: the AoR\'s bindings on every node after the write, or as they are for a retransmission; a refusal lists none', async () => {
    await reset();
    const ruids = (r: unknown) => (r as { bindings: ContactRecord[] }).bindings.map((c) => c.ruid).sort();
    const written = await a.locationWrite('erin', [contact('a-1', 'sip:erin@192.0.2.1:5060'), contact('a-2', 'sip:erin@192.0.2.2:5060')], [], { bindings: {}, list: true });
    assert.deepEqual(ruids(written), ['a-1', 'a-2'], 'a first write: its own puts');
    const cseq = { callId: 'c9', cseq: 3, uris: ['sip:erin@192.0.2.1:5060'], delaySec: 20 };
    const taken = await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.1:5060', { callId: 'c9', cseq: 3 })], [], { bindings: {}, cseq, list: true });
    assert.deepEqual(ruids(taken), ['a-2', 'b-1'], 'B\'s put and A\'s other binding, not the one B took over');
    const b2 = (taken as { bindings: ContactRecord[] }).bindings.find((c) => c.ruid === 'a-2')!;
    assert.equal(b2.contact, 'sip:erin@192.0.2.2:5060', 'another node\'s binding as it wrote it');
    const again = await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.1:5060', { callId: 'c9', cseq: 3 })], [], { bindings: {}, cseq, list: true });
    assert.equal((again as { cseq?: string }).cseq, 'retransmission');
    assert.deepEqual(ruids(again), ['a-2', 'b-1'], 'a retransmission: the bindings as they are');
    const refused = await b.locationWrite('erin', [contact('b-2', 'sip:erin@192.0.2.3:5060', { cseq: 5 })], [], { maxContacts: 2, bindings: {}, list: true });
    assert.equal((refused as { contacts?: number }).contacts, 3, 'refused: the count it would have had');
    assert.deepEqual(ruids(refused), ['a-2', 'b-1'], 'and the bindings as they are (the 503 lists them)');
    const lower = await b.locationWrite('erin', [contact('b-1', 'sip:erin@192.0.2.1:5060', { callId: 'c9', cseq: 2 })], [], { bindings: {}, cseq: { ...cseq, cseq: 2 }, list: true });
    assert.equal((lower as { cseq?: string }).cseq, 'lower');
    assert.deepEqual(ruids(lower), ['a-2', 'b-1'], 'a lower CSeq: the bindings as they are (the 400 lists them)');
    const unregistered = await b.locationWrite('erin', [], [], { bindings: { unregister: ['sip:erin@192.0.2.2:5060'] }, cseq: { ...cseq, cseq: 4, uris: ['sip:erin@192.0.2.2:5060'] }, list: true });
    assert.deepEqual(ruids(unregistered), ['b-1'], 'an un-REGISTER through B of A\'s binding: what is left');
  });
});
