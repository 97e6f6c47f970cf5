import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp, canonicalIpv6 } from '../../../src/core/address/ip.js';
import { ValidationError } from '../../../src/core/errors.js';

test('IPv4: accepted as written, 32 bits', () => {
  assert.deepEqual(parseIp('10.0.1.102'), { text: '10.0.1.102', family: 4, bits: 32 });
  assert.deepEqual(parseIp(' 192.168.0.1 '), { text: '192.168.0.1', family: 4, bits: 32 });
});

test('IPv6: canonical RFC 5952 text, 128 bits, brackets allowed', () => {
  assert.equal(parseIp('2001:DB8:0:0:0:0:0:1').text, '2001:db8::1');
  assert.equal(parseIp('[fe80::1]').text, 'fe80::1');
  assert.equal(parseIp('2001:db8:0:1:0:0:0:1').text, '2001:db8:0:1::1');
  assert.equal(parseIp('1:0:0:1:0:0:0:1').text, '1:0:0:1::1', 'the longer zero run is compressed');
  assert.equal(parseIp('::').text, '::');
  assert.equal(parseIp('::ffff:1.2.3.4').text, '::ffff:1.2.3.4');
  assert.equal(parseIp('::1').bits, 128);
  assert.equal(canonicalIpv6('2001:0db8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
});

test('rejects what Kamailio would misread or not read', () => {
  for (const bad of ['300.1.1.1', '010.0.0.1', '1.2.3', '10.0.0.0/8', 'example.com', '', 'fe80::1%eth0', '1.2.3.4:5060']) {
    assert.throws(() => parseIp(bad), (e: unknown) => e instanceof ValidationError && e.category === 'usage', bad);
  }
});
