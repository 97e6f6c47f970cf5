import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ulBindings, type UlLookup } from '../../../src/core/proxy/ul.js';
import type { UlContactRow } from '../../../src/core/rpc/methods.js';

const row = (contact: string, ruid: string | null, extra: Partial<UlContactRow> = {}): UlContactRow => ({
  domain: 'location', aor: 'alice', contact, expires: 300, received: null, userAgent: null, lastModified: 1, callId: `cid-${contact}`, cseq: 1, q: null, ruid, socket: null, ...extra,
});
const answer = (node: string, ...contacts: UlContactRow[]): { node: string; value: UlLookup } => ({ node, value: { aor: 'alice', contacts } });

test('ulBindings: a binding several nodes list (same ruid) is one, naming each node in node order; the first copy is kept', () => {
  const a1 = row('sip:alice@10.0.0.1', 'r1', { expires: 300 });
  const a2 = row('sip:alice@10.0.0.2', 'r2');
  const b1 = row('sip:alice@10.0.0.1', 'r1', { expires: 299 });
  const b3 = row('sip:alice@10.0.0.3', 'r3');
  assert.deepEqual(ulBindings([answer('a', a1, a2), answer('b', b1, b3), answer('c')]), [
    { contact: a1, nodes: ['a', 'b'] },
    { contact: a2, nodes: ['a'] },
    { contact: b3, nodes: ['b'] },
  ]);
});

test('ulBindings: without a ruid a binding is its AoR, URI and Call-ID; another ruid is another binding', () => {
  const x = row('sip:alice@10.0.0.1', null);
  const y = row('sip:alice@10.0.0.1', null, { callId: 'other' });
  const z = row('sip:alice@10.0.0.1', 'r9');
  assert.deepEqual(ulBindings([answer('a', x, y), answer('b', { ...x }, z)]), [
    { contact: x, nodes: ['a', 'b'] },
    { contact: y, nodes: ['a'] },
    { contact: z, nodes: ['b'] },
  ]);
});
