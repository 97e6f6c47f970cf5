import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVia } from '../../../src/core/sip/headers.js';
import { formatVia, formatViaFilled } from '../../../src/core/sip/serializer.js';
import type { Via } from '../../../src/core/sip/message.js';

/** What a reply's top Via was formatted as before formatViaFilled: a copy with its params Map set. */
function viaCopy(v: Via, rport: string | undefined, received: string | undefined): string {
  const params = new Map(v.params);
  if (rport !== undefined) params.set('rport', rport);
  if (received !== undefined) params.set('received', received);
  return formatVia({ ...v, params });
}

test('formatViaFilled writes what formatting a filled-in copy of the Via wrote', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-abc;rport', '5070', '10.0.0.9'],
    ['SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bK-abc', '40000', '10.0.0.5'],
    ['SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-abc', undefined, '192.0.2.1'],
    ['SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-abc', undefined, undefined],
    ['SIP/2.0/TCP [2001:db8::1]:5060;received=2001:db8::9;branch=z9hG4bK-x;rport=1', '5061', '2001:db8::2'],
    ['SIP/2.0/UDP host.example.com;branch=z9hG4bK-y;x="a b";flag', undefined, '198.51.100.7'],
  ];
  for (const [text, rport, received] of cases) {
    const v = parseVia(text)[0]!;
    assert.equal(formatViaFilled(v, rport, received), viaCopy(v, rport, received), text);
  }
  // a Via built in code with rport set but no rport parameter: appended before received, as Map.set appended it
  const built: Via = { protocol: 'SIP', version: '2.0', transport: 'UDP', host: '10.0.0.5', hostType: 'ipv4', params: new Map([['branch', 'z9hG4bK-1']]), branch: 'z9hG4bK-1', rport: null };
  assert.equal(formatViaFilled(built, '5060', '10.0.0.6'), viaCopy(built, '5060', '10.0.0.6'));
});
