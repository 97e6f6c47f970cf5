// The address through which other cluster nodes hand calls to this one (hopOf, written into each
// registration in Redis): a UDP listen address on the IP the contact registered on, else the first
// UDP one; none without a UDP listen address with a fixed port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hopOf } from '../../../src/daemon/modules/cluster/cluster-module.js';

test('hopOf: the UDP listen address on the IP the contact registered on', () => {
  const listen = ['udp:192.0.2.11:5060', 'tcp:192.0.2.11:5060', 'udp:198.51.100.7:5080', 'tls:198.51.100.7:5061'];
  assert.equal(hopOf(listen, 'tcp:192.0.2.11:5060'), '192.0.2.11:5060');
  assert.equal(hopOf(listen, 'tls:198.51.100.7:5061'), '198.51.100.7:5080', 'a TLS contact: the UDP port on the same IP');
  assert.equal(hopOf(listen, 'udp:203.0.113.1:5060'), '192.0.2.11:5060', 'no listen address on that IP: the first UDP one');
  assert.equal(hopOf(listen), '192.0.2.11:5060');
});

test('hopOf: IPv6 in brackets; nothing without a usable UDP listen address', () => {
  assert.equal(hopOf(['udp:[2001:db8::5]:5060', 'tcp:[2001:db8::5]:5060'], 'tcp:[2001:db8::5]:5060'), '[2001:db8::5]:5060');
  assert.equal(hopOf(['tcp:192.0.2.11:5060']), undefined);
  assert.equal(hopOf(['udp:192.0.2.11:0']), undefined, 'port 0 (any free port) is no address to give others');
  assert.equal(hopOf(['not an address']), undefined);
});
