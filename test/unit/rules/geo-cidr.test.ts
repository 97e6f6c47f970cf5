// Country data (Tor's geoip files from Debian's tor-geoipdb; an MMDB file through mmdb-lib), the
// CIDR map the blocklist and the country overrides use, and network canonical forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CidrMap, parseCidr } from '../../../src/daemon/kernel/cidr-map.js';
import { TorGeoip } from '../../../src/daemon/modules/country/geoip.js';
import { parseIp } from '../../../src/daemon/modules/permissions/ip.js';
import { canonicalNetwork } from '../../../src/core/address/network.js';
import { parseExpiry } from '../../../src/core/ipblock/ip-blocklist.js';
import { requireComponent } from '../../helpers/require.js';

const ip = (t: string) => parseIp(t)!;

test('CidrMap: longest prefix wins, IPv4 and IPv6, mapped IPv4', () => {
  const m = new CidrMap<string>();
  for (const [n, v] of [['10.0.0.0/8', 'a'], ['10.1.0.0/16', 'b'], ['10.1.2.3', 'c'], ['2001:db8::/32', 'd'], ['2001:db8:1::/48', 'e'], ['0.0.0.0/0', 'any']] as const) {
    const c = parseCidr(n)!;
    m.add(c.ip, c.mask, v);
  }
  assert.equal(m.lookup('10.1.2.3')?.value, 'c');
  assert.equal(m.lookup('10.1.9.9')?.value, 'b');
  assert.equal(m.lookup('10.200.0.1')?.value, 'a');
  assert.equal(m.lookup('192.0.2.1')?.value, 'any');
  assert.equal(m.lookup('::ffff:10.1.2.3')?.value, 'c', 'a dual-stack socket reports IPv4 peers this way');
  assert.equal(m.lookup('2001:db8:1:2::1')?.value, 'e');
  assert.equal(m.lookup('2001:db8:2::1')?.value, 'd');
  assert.equal(m.lookup('2001:db9::1'), undefined);
  assert.equal(m.lookup('not an ip'), undefined);
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0.0/x'), undefined);
});

test('networks are stored with host bits cleared; expiries', () => {
  assert.equal(canonicalNetwork('10.1.2.3/8'), '10.0.0.0/8');
  assert.equal(canonicalNetwork('192.0.2.7/32'), '192.0.2.7');
  assert.equal(canonicalNetwork('2001:DB8:0:0:1::5/32'), '2001:db8::/32');
  assert.equal(canonicalNetwork('2001:db8::1'), '2001:db8::1');
  assert.throws(() => canonicalNetwork('10.0.0.0/40'), /mask/);
  assert.throws(() => canonicalNetwork('example.com'), /not an address/);
  const now = Date.parse('2026-12-06T00:00:00Z');
  assert.equal(parseExpiry('7d', now), now / 1000 + 7 * 86400);
  assert.equal(parseExpiry(undefined, now), 0);
  assert.throws(() => parseExpiry('2020-01-01', now), /past/);
  assert.throws(() => parseExpiry('soon', now), /duration/);
});

test('Tor geoip format: ranges, "??" skipped, unsorted input, IPv6', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geoip-'));
  try {
    writeFileSync(join(dir, 'geoip'), '# comment\n16777472,16778239,CN\n16777216,16777471,AU\n16778240,16779263,??\nbroken line\n');
    writeFileSync(join(dir, 'geoip6'), '# comment\n2001:2::,2001:2:0:ffff:ffff:ffff:ffff:ffff,JP\n2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,??\n::1,::1,XX\n');
    const g = new TorGeoip(join(dir, 'geoip'), join(dir, 'geoip6'));
    assert.equal(g.lookup(ip('1.0.0.1')), 'AU');
    assert.equal(g.lookup(ip('1.0.1.0')), 'CN');
    assert.equal(g.lookup(ip('1.0.4.1')), undefined, '?? is no country');
    assert.equal(g.lookup(ip('2001:2::abcd')), 'JP');
    assert.equal(g.lookup(ip('2001::1')), undefined);
    assert.equal(g.lookup(ip('::1')), 'XX', 'a one-address range with "::" at the start');
    assert.equal(g.skipped, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Debian's tor-geoipdb: known addresses (IPFire Location data)", () => {
  requireComponent(existsSync('/usr/share/tor/geoip6') ? undefined : "Debian's tor-geoipdb (/usr/share/tor/geoip, geoip6; scripts/install-deps.sh installs it)");
  const g = new TorGeoip('/usr/share/tor/geoip', '/usr/share/tor/geoip6');
  assert.ok(g.ranges > 100_000, `ranges ${g.ranges}`);
  assert.equal(g.skipped, 0);
  assert.equal(g.lookup(ip('8.8.8.8')), 'US');
  assert.equal(g.lookup(ip('81.2.69.142')), 'GB');
  assert.equal(g.lookup(ip('2001:67c:2e8:22::c100:68b')), 'NL');
  assert.equal(g.lookup(ip('127.0.0.1')), undefined);
  assert.equal(g.lookup(ip('192.168.1.1')), undefined);
});
