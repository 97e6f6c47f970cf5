// A member's entry in sipd:nodes as every node reads it (parseNodeEntry) and whether it counts as
// alive (nodeAlive): a heartbeat under 6 s old and no clean stop since — a node stopped cleanly
// keeps its entry marked stopped, so the others count it not alive at once, as a killed node's
// heartbeat ages out (cluster README, "A node not alive"). The process test is
// test/daemon/cluster-stopped-node.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeAlive, parseNodeEntry } from '../../../src/daemon/modules/cluster/cluster-module.js';

test('parseNodeEntry: the fields of an entry; stopped only when true; not an entry → undefined', () => {
  assert.deepEqual(parseNodeEntry(JSON.stringify({ lastSeen: 1000, listen: ['udp:192.0.2.1:5060'], hops: ['udp:192.0.2.1:5060'], pid: 42 })), {
    lastSeen: 1000,
    listen: ['udp:192.0.2.1:5060'],
    hops: ['udp:192.0.2.1:5060'],
    pid: 42,
    stopped: false,
  });
  assert.equal(parseNodeEntry(JSON.stringify({ lastSeen: 1000, pid: 42, stopped: true }))?.stopped, true);
  assert.equal(parseNodeEntry(JSON.stringify({ lastSeen: 1000, stopped: 'yes' }))?.stopped, false, 'only true marks a stop');
  assert.deepEqual(parseNodeEntry(JSON.stringify({ listen: 'udp:x', hops: [1, 'udp:192.0.2.1:5060'] })), { lastSeen: 0, listen: [], hops: ['udp:192.0.2.1:5060'], pid: 0, stopped: false });
  assert.equal(parseNodeEntry(JSON.stringify({ lastSeen: 1, listen: [] }))?.hops, undefined, 'no hops: the hop written with each contact is used');
  assert.equal(parseNodeEntry('not json'), undefined);
  assert.equal(parseNodeEntry('null'), undefined);
  assert.equal(parseNodeEntry('7'), undefined);
});

test('nodeAlive: a heartbeat under 6 s old and not stopped', () => {
  const now = 1_000_000;
  assert.equal(nodeAlive({ lastSeen: now - 1000 }, now), true);
  assert.equal(nodeAlive({ lastSeen: now - 5999, stopped: false }, now), true);
  assert.equal(nodeAlive({ lastSeen: now - 6000 }, now), false, 'a killed node: its heartbeat aged out');
  assert.equal(nodeAlive({ lastSeen: now - 100, stopped: true }, now), false, 'stopped cleanly a moment ago: not alive at once');
});
