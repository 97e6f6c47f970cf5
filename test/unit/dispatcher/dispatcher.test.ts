// The dispatcher table (src/core/dispatcher/dispatcher.ts) on SQLite and MariaDB.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { addDispatcher, listDispatcher, parseAttrs, parseDestination, removeDispatcher, validateDispatcher } from '../../../src/core/dispatcher/dispatcher.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat = 'usage') => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

test('destinations must parse as sip:/sips: URIs', () => {
  assert.equal(parseDestination(' SIP:192.0.2.30:5060 '), 'sip:192.0.2.30:5060');
  assert.equal(parseDestination('sips:gw.example.com;transport=tls'), 'sips:gw.example.com;transport=tls');
  assert.equal(parseDestination('sip:[2001:db8::30]:5080'), 'sip:[2001:db8::30]:5080');
  for (const bad of ['192.0.2.30', 'tel:+4930123', 'http://gw.example.com', 'sip:', 'sip:gw example.com', 'sip:user:secret@gw.example.com', 'sip:gw.example.com?Subject=x', `sip:${'a'.repeat(190)}.com`]) {
    assert.throws(() => parseDestination(bad), code('INVALID_URI'), bad);
  }
});

test('attrs as the module parses them; numbers it reads must be in range', () => {
  assert.equal(parseAttrs('weight=50;duid=gw1;maxload=20'), 'weight=50;duid=gw1;maxload=20');
  assert.equal(parseAttrs(undefined), '');
  for (const bad of ['weight=0', 'weight=101', 'rweight=x', 'maxload=-1', 'a b', '=x', 'x'.repeat(129)]) assert.throws(() => parseAttrs(bad), (e: unknown) => e instanceof SipctlError && e.category === 'usage', bad);
  assert.throws(() => validateDispatcher({ setid: 'one', uri: 'sip:192.0.2.1' }), code('INVALID_SETID'));
  assert.throws(() => validateDispatcher({ setid: '', uri: 'sip:192.0.2.1' }), code('INVALID_SETID'));
  assert.throws(() => validateDispatcher({ setid: 1, uri: 'sip:192.0.2.1', flags: '-1' }), code('INVALID_FLAGS'));
  assert.throws(() => validateDispatcher({ setid: 1, uri: 'sip:192.0.2.1', description: 'x'.repeat(65) }), code('INVALID_DESCRIPTION'));
});

forEachEngine('dispatcher table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('add, conflict on the same URI in the set, dry run, list, rm, rm of missing', async () => {
    const a = await addDispatcher(db, { setid: 1, uri: 'sip:192.0.2.30:5060', attrs: 'weight=50', description: 'gateway A' });
    assert.ok(a.id! > 0);
    await assert.rejects(addDispatcher(db, { setid: '1', uri: 'SIP:192.0.2.30:5060' }), code('DISPATCHER_EXISTS', 'conflict'));
    await addDispatcher(db, { setid: 2, uri: 'sip:192.0.2.30:5060', priority: 7, flags: 8 });
    await addDispatcher(db, { setid: 3, uri: 'sip:192.0.2.31' }, { dryRun: true });
    assert.deepEqual((await listDispatcher(db)).map((r) => [r.setid, r.destination, r.flags, r.priority, r.attrs, r.description]), [
      [1, 'sip:192.0.2.30:5060', 0, 0, 'weight=50', 'gateway A'],
      [2, 'sip:192.0.2.30:5060', 8, 7, '', ''],
    ]);
    assert.equal((await removeDispatcher(db, 1, 'sip:192.0.2.30:5060', { dryRun: true })).entries.length, 1);
    await removeDispatcher(db, 1, 'sip:192.0.2.30:5060');
    assert.deepEqual((await listDispatcher(db, { setid: 1 })), []);
    await assert.rejects(removeDispatcher(db, 1, 'sip:192.0.2.30:5060'), code('DISPATCHER_NOT_FOUND', 'not-found'));
    assert.equal((await listDispatcher(db)).length, 1);
  });
});
