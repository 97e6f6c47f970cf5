// The address through which other cluster nodes hand calls to this one (hopOf, written into each
// registration in Redis): a UDP listen address on the IP the contact registered on, else the first
// UDP one; none without a UDP listen address with a fixed port. A --workers process on every
// address (0.0.0.0, ::) hands off to the other workers of its sipd on loopback
// (localHandOffAddresses).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressProblem, handOffAddresses, hopOf, localHandOffAddresses, withAddress } from '../../../src/daemon/modules/cluster/cluster-module.js';

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

test('hopOf: an unspecified address (0.0.0.0, ::) is no address to give others', () => {
  assert.equal(hopOf(['udp:0.0.0.0:5060']), undefined);
  assert.equal(hopOf(['udp:[::]:5060']), undefined);
  assert.equal(hopOf(['udp:0.0.0.0:5060', 'udp:192.0.2.11:5060'], 'udp:0.0.0.0:5060'), '192.0.2.11:5060');
});

test('handOffAddresses: a --workers process hands off at its private port (per IP), others at their listen address', () => {
  // sipd --workers: the shared address and the worker's private port on the same IP
  const configured = ['udp:192.0.2.11:5060', 'tcp:192.0.2.11:5060', 'udp:198.51.100.7:5080'];
  const bound = ['udp:192.0.2.11:5060', 'udp:192.0.2.11:41234', 'tcp:192.0.2.11:5060', 'udp:198.51.100.7:5080', 'udp:198.51.100.7:39000'];
  const hops = handOffAddresses(configured, bound);
  assert.deepEqual(hops, ['udp:192.0.2.11:41234', 'udp:198.51.100.7:39000']);
  assert.equal(hopOf(hops, 'tcp:192.0.2.11:5060'), '192.0.2.11:41234', 'a TCP contact on the shared address: the private port of the worker holding its connection');
  assert.equal(hopOf(hops, 'tls:198.51.100.7:5061'), '198.51.100.7:39000');
  // one process: its listen addresses as they are
  assert.deepEqual(handOffAddresses(configured, ['udp:192.0.2.11:5060', 'tcp:192.0.2.11:5060', 'udp:198.51.100.7:5080']), ['udp:192.0.2.11:5060', 'udp:198.51.100.7:5080']);
  // a configured port 0: the port it got
  assert.deepEqual(handOffAddresses(['udp:192.0.2.11:0'], ['udp:192.0.2.11:45000']), ['udp:192.0.2.11:45000']);
  assert.deepEqual(handOffAddresses(['udp:[2001:db8::5]:5060'], ['udp:[2001:db8::5]:5060', 'udp:[2001:db8::5]:40000']), ['udp:[2001:db8::5]:40000']);
});

test('localHandOffAddresses: a --workers process on 0.0.0.0 / :: is reached by its sibling workers at its private port on loopback; specific addresses give none', () => {
  const hops = handOffAddresses(['udp:0.0.0.0:5060', 'tcp:0.0.0.0:5060', 'udp:[::]:5060'], ['udp:0.0.0.0:5060', 'udp:0.0.0.0:41234', 'tcp:0.0.0.0:5060', 'udp:[::]:5060', 'udp:[::]:40000']);
  assert.deepEqual(hops, ['udp:0.0.0.0:41234', 'udp:[::]:40000']);
  assert.equal(hopOf(hops), undefined, 'nothing another machine could use');
  const local = localHandOffAddresses(hops);
  assert.deepEqual(local, ['udp:127.0.0.1:41234', 'udp:[::1]:40000']);
  assert.equal(hopOf(local, 'tcp:0.0.0.0:5060'), '127.0.0.1:41234');
  assert.deepEqual(localHandOffAddresses(['udp:192.0.2.11:41234', 'udp:0.0.0.0:0', 'tcp:0.0.0.0:5060']), [], 'a specific address, port 0, not UDP: none');
});

test('withAddress (cluster.address): a node on 0.0.0.0 / :: is handed calls at that address of the same family; specific addresses stay', () => {
  const hops = handOffAddresses(['udp:0.0.0.0:5060', 'udp:[::]:5060', 'udp:192.0.2.11:5080'], ['udp:0.0.0.0:5060', 'udp:[::]:5060', 'udp:192.0.2.11:5080']);
  assert.deepEqual(withAddress(hops, '198.51.100.7'), ['udp:198.51.100.7:5060', 'udp:[::]:5060', 'udp:192.0.2.11:5080']);
  assert.deepEqual(withAddress(hops, '2001:db8::7'), ['udp:0.0.0.0:5060', 'udp:[2001:db8::7]:5060', 'udp:192.0.2.11:5080']);
  assert.equal(hopOf(withAddress(['udp:0.0.0.0:5060'], '198.51.100.7')), '198.51.100.7:5060', 'another machine can use it');
  assert.deepEqual(withAddress(hops, undefined), hops);
});

test('addressProblem (the warning at start): cluster.address not on this machine, or with no 0.0.0.0 / :: listen address of its family to stand for', () => {
  const interfaces = ['127.0.0.1', '198.51.100.7', '::1', '2001:db8::7'];
  assert.equal(addressProblem('198.51.100.7', ['udp:0.0.0.0:5060'], interfaces), undefined);
  assert.equal(addressProblem('2001:db8::7', ['udp:[::]:5060'], interfaces), undefined);
  assert.match(addressProblem('203.0.113.9', ['udp:0.0.0.0:5060'], interfaces) ?? '', /not an address of this machine/);
  assert.match(addressProblem('198.51.100.7', ['udp:198.51.100.7:5060'], interfaces) ?? '', /no listen address is on 0\.0\.0\.0: it changes nothing/);
  assert.match(addressProblem('2001:db8::7', ['udp:0.0.0.0:5060'], interfaces) ?? '', /no listen address is on ::/);
});
