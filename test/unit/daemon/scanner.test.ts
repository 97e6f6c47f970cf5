import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest } from '../../../src/core/sip/message.js';
import type { CoreApi, RequestContext, SecurityEvent } from '../../../src/daemon/kernel/contracts.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { DEFAULT_SCANNER_USER_AGENTS, createScannerModule, matchScanner, parseUserAgents, type ScannerApi } from '../../../src/daemon/modules/scanner/scanner-module.js';

function ctx(ua?: string): RequestContext {
  const lines = [
    'OPTIONS sip:127.0.0.1 SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bK-1',
    'From: "x" <sip:100@127.0.0.1>;tag=1',
    'To: <sip:100@127.0.0.1>',
    'Call-ID: c1',
    'CSeq: 1 OPTIONS',
    ...(ua === undefined ? [] : [`User-Agent: ${ua}`]),
    'Content-Length: 0',
  ];
  return {
    msg: parseMessage(lines.join('\r\n') + '\r\n\r\n') as SipRequest,
    source: { ip: '198.51.100.7', port: 5070, transport: 'udp' },
    local: { ip: '127.0.0.1', port: 5060, transport: 'udp' },
    receivedAt: 0,
    isMyself: () => true,
  };
}

async function scanner(params: Record<string, unknown> = {}) {
  const events: SecurityEvent[] = [];
  const core = { securityEvent: (e: SecurityEvent) => events.push(e) } as unknown as CoreApi;
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: core }));
  const mod = createScannerModule();
  reg.register(mod);
  await reg.initAll({ params: new Map([['scanner', params]]) });
  return { api: mod.api as ScannerApi, events, reg };
}

test('scanner: default list (friendly-scanner, sipvicious, sipcli, sundayddr, sip-scan, iWar, sipsak)', () => {
  const p = parseUserAgents(DEFAULT_SCANNER_USER_AGENTS);
  assert.deepEqual(p, ['friendly-scanner', 'sipvicious', 'sipcli', 'sundayddr', 'sip-scan', 'iwar', 'sipsak']);
  assert.equal(matchScanner('friendly-scanner', p), 'friendly-scanner');
  assert.equal(matchScanner('SIPVicious/0.3.4', p), 'sipvicious');
  assert.equal(matchScanner('IWAR', p), 'iwar');
  assert.equal(matchScanner('sipsak 0.9.8.1', p), 'sipsak', 'sipsak is in the default list: tests that use it as a client must configure the list');
  assert.equal(matchScanner('Linphone/5.2 (belle-sip/5.2)', p), undefined);
});

test('scanner: matching request dropped silently and logged with source, method, user', async () => {
  const s = await scanner();
  assert.deepEqual(s.api.check(ctx('friendly-scanner')), { action: 'drop', why: 'scanner' });
  assert.equal(s.events.length, 1);
  assert.equal(s.events[0].event, 'scanner-dropped');
  assert.equal(s.events[0].sourceIp, '198.51.100.7');
  assert.equal(s.events[0].method, 'OPTIONS');
  assert.equal(s.events[0].user, '100');
  assert.deepEqual(s.api.check(ctx('Zoiper rv2.10')), { action: 'continue' });
  assert.deepEqual(s.api.check(ctx()), { action: 'continue' }, 'no User-Agent: not a scanner by this test');
  assert.deepEqual(await s.reg.lookup('scanner.stats')!.handler(undefined), { caught: 1, action: 'drop', user_agents: parseUserAgents(DEFAULT_SCANNER_USER_AGENTS) });
});

test('scanner: action reply answers 200 OK; a custom list (without sipsak) lets sipsak through', async () => {
  const s = await scanner({ action: 'reply', user_agents: 'friendly-scanner,sipvicious' });
  assert.deepEqual(s.api.check(ctx('friendly-scanner')), { action: 'reply', reply: { status: 200, reason: 'OK' } });
  assert.deepEqual(s.api.check(ctx('sipsak 0.9.8.1')), { action: 'continue' });
  const off = await scanner({ user_agents: '' });
  assert.deepEqual(off.api.check(ctx('friendly-scanner')), { action: 'continue' });
  await assert.rejects(scanner({ action: 'block' }), /expected one of drop, reply/);
});

test('scanner: reload swaps the list', async () => {
  const s = await scanner();
  await s.reg.reloadAll({ params: new Map([['scanner', { user_agents: 'zoiper' }]]) });
  assert.deepEqual(s.api.check(ctx('friendly-scanner')), { action: 'continue' });
  assert.equal(s.api.check(ctx('Zoiper rv2.10')).action, 'drop');
});
