// The domain table (src/core/domain/domains.ts) on SQLite and MariaDB: validation before any
// write, conflicts in any letter case, removal, and nothing written on --dry-run.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { addDomain, listDomains, parseDid, parseDomain, removeDomain } from '../../../src/core/domain/domains.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat: string) => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

test('parseDomain: hostnames folded to lower case, IPs canonical, IPv6 bracketed; the rest refused', () => {
  assert.equal(parseDomain('SIP.Example.COM'), 'sip.example.com');
  assert.equal(parseDomain('example.com.'), 'example.com');
  assert.equal(parseDomain('192.0.2.10'), '192.0.2.10');
  assert.equal(parseDomain('2001:DB8::0:1'), '[2001:db8::1]');
  assert.equal(parseDomain('[2001:db8::1]'), '[2001:db8::1]');
  for (const bad of ['', 'sip:example.com', 'alice@example.com', 'example.com:5060', 'exa mple.com', '-bad.example', '010.0.0.1.5', 'a'.repeat(61) + '.com', 'ex_ample.com', 'exämple.com']) {
    assert.throws(() => parseDomain(bad), code('INVALID_DOMAIN', 'usage'), bad);
  }
  assert.equal(parseDid(undefined), null);
  assert.equal(parseDid('example-1'), 'example-1');
  assert.throws(() => parseDid('with space'), code('INVALID_DID', 'usage'));
  assert.throws(() => parseDid('x'.repeat(65)), code('INVALID_DID', 'usage'));
});

forEachEngine('domain table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('add, conflict in any case, dry run writes nothing, list, rm, rm of missing', async () => {
    const now = new Date('2026-12-06T10:00:00Z');
    const a = await addDomain(db, { domain: 'Sip.Example.com', did: 'ex' }, { now });
    assert.deepEqual(a.entries, [{ domain: 'sip.example.com', did: 'ex' }]);
    assert.ok(a.id! > 0);
    await assert.rejects(addDomain(db, { domain: 'SIP.EXAMPLE.COM' }), code('DOMAIN_EXISTS', 'conflict'));
    const dry = await addDomain(db, { domain: '2001:db8::1' }, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual((await listDomains(db)).map((r) => r.domain), ['sip.example.com']);
    await addDomain(db, { domain: '2001:db8::1' }, { now });
    const rows = await listDomains(db);
    assert.deepEqual(rows.map((r) => [r.domain, r.did, r.lastModified]), [['[2001:db8::1]', null, '2026-12-06 10:00:00'], ['sip.example.com', 'ex', '2026-12-06 10:00:00']]);

    const dryRm = await removeDomain(db, 'sip.example.com', { dryRun: true });
    assert.equal(dryRm.entries.length, 1);
    assert.equal((await listDomains(db)).length, 2);
    await removeDomain(db, 'SIP.example.com');
    assert.deepEqual((await listDomains(db)).map((r) => r.domain), ['[2001:db8::1]']);
    await assert.rejects(removeDomain(db, 'sip.example.com'), code('DOMAIN_NOT_FOUND', 'not-found'));
    await assert.rejects(removeDomain(db, 'not a domain'), code('INVALID_DOMAIN', 'usage'));
  });
});
