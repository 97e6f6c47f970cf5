// Country data from MMDB files through mmdb-lib: the GeoIP2 / DB-IP layout (country.iso_code,
// registered_country.iso_code as Kamailio's geoip2 falls back to) and ip-location-db's
// (country_code), IPv4 and IPv6, from small files written here (test/helpers/mmdb-writer.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MmdbGeoip } from '../../../src/daemon/modules/country/geoip.js';
import { parseIp } from '../../../src/daemon/modules/permissions/ip.js';
import { buildMmdb } from '../../helpers/mmdb-writer.js';

test('both MMDB layouts, IPv4 and IPv6', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmdb-'));
  try {
    const file = join(dir, 'test.mmdb');
    writeFileSync(file, buildMmdb([
      ['81.2.69.0/24', { country: { iso_code: 'GB', geoname_id: 2635167 } }],
      ['192.0.2.0/24', { registered_country: { iso_code: 'de' } }],
      ['198.51.100.0/24', { country_code: 'FR' }],
      ['2001:db8::/32', { country_code: 'NL' }],
      ['2001:db9::/32', { continent: { code: 'EU' } }],
    ]));
    const g = new MmdbGeoip(file);
    const cc = (t: string) => g.lookup(parseIp(t)!);
    assert.equal(cc('81.2.69.142'), 'GB', 'GeoIP2 / DB-IP: country.iso_code');
    assert.equal(cc('192.0.2.5'), 'DE', 'registered_country.iso_code when country is missing, upper-cased');
    assert.equal(cc('198.51.100.9'), 'FR', 'ip-location-db: country_code');
    assert.equal(cc('2001:db8:1::1'), 'NL');
    assert.equal(cc('2001:db9::1'), undefined, 'a record without a country');
    assert.equal(cc('203.0.113.1'), undefined, 'not in the file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
