import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { serializeMessage } from '../../../src/core/sip/serializer.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { createMaxfwdModule, processMaxForwards, type MaxfwdApi } from '../../../src/daemon/modules/maxfwd/maxfwd-module.js';

function req(maxForwards?: string): SipRequest {
  const lines = [
    'OPTIONS sip:127.0.0.1 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1',
    'From: <sip:a@127.0.0.1>;tag=1',
    'To: <sip:127.0.0.1>',
    'Call-ID: c1',
    'CSeq: 1 OPTIONS',
    ...(maxForwards === undefined ? [] : [`Max-Forwards: ${maxForwards}`]),
    'Content-Length: 0',
  ];
  return parseMessage(lines.join('\r\n') + '\r\n\r\n') as SipRequest;
}

const S = { defaultValue: 70, maxLimit: 70 };

test('maxfwd: decrements; the header is rewritten in place', () => {
  const m = req('10');
  assert.deepEqual(processMaxForwards(m, S), { action: 'continue' });
  assert.equal(m.maxForwards, 9);
  assert.match(serializeMessage(m).toString(), /\r\nMax-Forwards: 9\r\n/);
  const one = req('1');
  assert.deepEqual(processMaxForwards(one, S), { action: 'continue' });
  assert.equal(one.maxForwards, 0);
});

test('maxfwd: 0 → 483 Too Many Hops', () => {
  assert.deepEqual(processMaxForwards(req('0'), S), { action: 'reply', reply: { status: 483, reason: 'Too Many Hops' } });
});

test('maxfwd: missing → the default (70) is added', () => {
  const m = req();
  assert.deepEqual(processMaxForwards(m, S), { action: 'continue' });
  assert.equal(m.maxForwards, 70);
  assert.equal(m.headers.filter((h) => h.key === 'max-forwards').length, 1);
  assert.match(serializeMessage(m).toString(), /\r\nMax-Forwards: 70\r\n/);
});

test('maxfwd: a value above max_limit is lowered before the decrement', () => {
  const m = req('255');
  processMaxForwards(m, { defaultValue: 70, maxLimit: 20 });
  assert.equal(m.maxForwards, 19);
});

test('maxfwd module: parameters and counter', async () => {
  const reg = new ModuleRegistry();
  const mod = createMaxfwdModule();
  reg.register(mod);
  await reg.initAll({ params: new Map([['maxfwd', { default_value: 16, max_limit: 32 }]]) });
  const api = mod.api as MaxfwdApi;
  const m = req();
  api.process(m);
  assert.equal(m.maxForwards, 16);
  assert.equal(api.process(req('0')).action, 'reply');
  assert.deepEqual(await reg.lookup('maxfwd.stats')!.handler(undefined), { too_many_hops: 1 });
  await assert.rejects(reg.reloadAll({ params: new Map([['maxfwd', { default_value: 0 }]]) }), /at least 1/);
  await reg.destroyAll();
});
