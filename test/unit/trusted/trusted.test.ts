// The permissions trusted table (src/core/trusted/trusted.ts) on SQLite and MariaDB.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { addTrusted, checkEre, listTrusted, removeTrusted, validateTrusted } from '../../../src/core/trusted/trusted.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat: string) => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

test('validateTrusted: canonical IP, transport names, defaults', () => {
  assert.deepEqual(validateTrusted({ srcIp: '2001:DB8::0:20' }), { srcIp: '2001:db8::20', proto: 'any', fromPattern: null, ruriPattern: null, tag: null, priority: 0 });
  assert.equal(validateTrusted({ srcIp: '192.0.2.1', proto: 'TLS', priority: '-3' }).proto, 'tls');
  assert.throws(() => validateTrusted({ srcIp: 'carrier.example' }), code('INVALID_SRC_IP', 'usage'));
  assert.throws(() => validateTrusted({ srcIp: '192.0.2.1', proto: 'http' }), code('INVALID_PROTO', 'usage'));
  assert.throws(() => validateTrusted({ srcIp: '192.0.2.1', priority: '1.5' }), code('INVALID_PRIORITY', 'usage'));
  assert.throws(() => validateTrusted({ srcIp: '192.0.2.1', tag: 'x'.repeat(65) }), code('INVALID_TAG', 'usage'));
});

test('checkEre: POSIX ERE accepted, Perl-only syntax and broken patterns refused', () => {
  for (const ok of ['^sip:.*@carrier\\.example$', '^sip:[0-9]+@', '^sip:[[:digit:]]{3,}', '(a|b)+', '^sip:\\+49']) assert.equal(checkEre('from_pattern', ok), ok);
  for (const bad of ['^sip:\\d+', '(?=x)', '^sip:.*?@', '\\w+', 'a\\1', '(unclosed', '[z-a]', 'x'.repeat(65)]) assert.throws(() => checkEre('from_pattern', bad), code('INVALID_FROM_PATTERN', 'usage'), bad);
});

forEachEngine('trusted table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('add, conflict, dry run, list, rm by transport, rm all, rm of missing', async () => {
    const a = await addTrusted(db, { srcIp: '192.0.2.20', proto: 'udp', fromPattern: '^sip:.*@carrier\\.example$', tag: 'carrier-a', priority: 5 });
    assert.ok(a.id! > 0);
    await assert.rejects(addTrusted(db, { srcIp: '192.0.2.20', proto: 'UDP', fromPattern: '^sip:.*@carrier\\.example$' }), code('TRUSTED_EXISTS', 'conflict'));
    await addTrusted(db, { srcIp: '192.0.2.20', proto: 'tcp' });
    await addTrusted(db, { srcIp: '2001:db8::20' }, { dryRun: true });
    const rows = await listTrusted(db);
    assert.deepEqual(rows.map((r) => [r.srcIp, r.proto, r.fromPattern, r.tag, r.priority]), [['192.0.2.20', 'udp', '^sip:.*@carrier\\.example$', 'carrier-a', 5], ['192.0.2.20', 'tcp', null, null, 0]]);

    const rmTcp = await removeTrusted(db, '192.0.2.20', { proto: 'tcp' });
    assert.equal(rmTcp.entries.length, 1);
    assert.equal((await listTrusted(db, { srcIp: '192.0.2.20' })).length, 1);
    await assert.rejects(removeTrusted(db, '192.0.2.20', { proto: 'tcp' }), code('TRUSTED_NOT_FOUND', 'not-found'));
    assert.equal((await removeTrusted(db, '192.0.2.20', { dryRun: true })).entries.length, 1);
    assert.equal((await listTrusted(db)).length, 1);
    await removeTrusted(db, '192.0.2.20');
    assert.deepEqual(await listTrusted(db), []);
  });
});
