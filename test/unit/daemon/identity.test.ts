// The identity trust boundary: which header spellings are identity headers, that every one goes,
// and that trusted address groups keep theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest } from '../../../src/core/sip/message.js';
import type { PermissionsApi } from '../../../src/daemon/kernel/contracts.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { IDENTITY_HEADERS, identityKeys, stripHeaders } from '../../../src/daemon/modules/identity/identity.js';
import { createIdentityModule, type IdentityApi } from '../../../src/daemon/modules/identity/identity-module.js';

const MESSAGE = [
  'INVITE sip:bob@127.0.0.1 SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1',
  'P-Asserted-Identity: <sip:a@x>',
  'p-asserted-identity: <sip:b@x>, <tel:+1555>',
  'P-ASSERTED-IDENTITY   :  <sip:c@x>',
  'P-Asserted-Identity:',
  '\t<sip:folded@x>',
  'P-Preferred-Identity: <sip:d@x>',
  'Remote-Party-ID: <sip:e@x>;party=calling',
  'REMOTE-PARTY-ID: <sip:f@x>',
  'From: <sip:alice@127.0.0.1>;tag=1',
  'To: <sip:bob@127.0.0.1>',
  'Call-ID: c1',
  'CSeq: 1 INVITE',
  'X-Asserted: not an identity header',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

test('identity keys: the three headers, however the configured names are written', () => {
  assert.deepEqual([...identityKeys(IDENTITY_HEADERS)].sort(), ['p-asserted-identity', 'p-preferred-identity', 'remote-party-id']);
  assert.deepEqual([...identityKeys([' P-Asserted-Identity ', 'REMOTE-PARTY-ID'])].sort(), ['p-asserted-identity', 'remote-party-id']);
  // a header with a compact form is matched in both spellings
  assert.deepEqual([...identityKeys(['Subject'])].sort(), ['s', 'subject']);
});

test('stripHeaders removes every occurrence in every spelling and keeps the rest in order', () => {
  const msg = parseMessage(MESSAGE) as SipRequest;
  const before = msg.headers.map((h) => h.key);
  const n = stripHeaders(msg.headers, identityKeys(IDENTITY_HEADERS));
  assert.equal(n, 7);
  assert.deepEqual(msg.headers.map((h) => h.key), before.filter((k) => !['p-asserted-identity', 'p-preferred-identity', 'remote-party-id'].includes(k)));
  assert.ok(msg.headers.some((h) => h.key === 'x-asserted'));
  assert.equal(stripHeaders(msg.headers, identityKeys(IDENTITY_HEADERS)), 0);
});

test('module: sources in a trusted group keep the headers, others lose them; assertion for subscribers', async () => {
  const trusted = new Set(['127.0.0.2']);
  const perms: PermissionsApi = { allowSource: (g, ip) => g === 200 && trusted.has(ip), groupsOf: () => [], reload: async () => undefined };
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'permissions', params: {}, init() {}, destroy() {}, rpc: {}, api: perms }));
  const mod = createIdentityModule();
  reg.register(mod);
  await reg.initAll({ params: new Map([['identity', {}]]) });
  const api = mod.api as IdentityApi;
  const a = parseMessage(MESSAGE) as SipRequest;
  assert.equal(api.sanitize(a.headers, { ip: '127.0.0.2', port: 5060 }), 0);
  assert.equal(api.sanitize(a.headers, { ip: '10.0.0.5', port: 5060 }), 7);
  assert.equal(api.assertion('alice', 'example.com'), '<sip:alice@example.com>');
  assert.deepEqual((await reg.lookup('identity.stats')!.handler(undefined)) as { stripped: number }, { stripped: 7, trusted_groups: [200], headers: ['p-asserted-identity', 'p-preferred-identity', 'remote-party-id'], assert_identity: true });
  // other trusted groups, assertion off
  const reg2 = new ModuleRegistry();
  reg2.register(defineModule({ name: 'permissions', params: {}, init() {}, destroy() {}, rpc: {}, api: perms }));
  const mod2 = createIdentityModule();
  reg2.register(mod2);
  await reg2.initAll({ params: new Map([['identity', { trusted_groups: '1,2', assert_identity: false }]]) });
  assert.equal((mod2.api as IdentityApi).trusted('127.0.0.2'), false);
  assert.equal((mod2.api as IdentityApi).assertion('alice', 'x'), undefined);
  await assert.rejects(async () => {
    const r = new ModuleRegistry();
    r.register(createIdentityModule());
    await r.initAll({ params: new Map([['identity', { trusted_groups: 'carriers' }]]) });
  }, /trusted_groups/);
});
