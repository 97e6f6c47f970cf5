// The speeddial module's speed_dial table (src/core/speeddial/speeddial.ts) on SQLite and MariaDB.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { addSpeedDial, listSpeedDial, parseTarget, removeSpeedDial } from '../../../src/core/speeddial/speeddial.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat = 'usage') => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

test('targets are sip:, sips: or tel: URIs', () => {
  assert.equal(parseTarget('SIP:bob@sip.example.com'), 'sip:bob@sip.example.com');
  assert.equal(parseTarget('tel:+4930123456'), 'tel:+4930123456');
  for (const bad of ['bob@sip.example.com', 'http://example.com', 'sip:', 'mailto:bob@example.com']) assert.throws(() => parseTarget(bad), code('INVALID_TARGET'), bad);
});

forEachEngine('speed_dial table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('add (sd_domain = the user\'s domain), conflict, dry run, list, rm, missing', async () => {
    await addSpeedDial(db, 'alice@sip.example.com', '11', 'sip:bob@sip.example.com', { description: 'Bob' });
    await assert.rejects(addSpeedDial(db, 'alice@sip.example.com', '11', 'tel:+4930123'), code('SPEEDDIAL_EXISTS', 'conflict'));
    await addSpeedDial(db, 'alice@sip.example.com', '12', 'tel:+4930123', { dryRun: true });
    const [row] = await db.query<Record<string, unknown>>('SELECT username, domain, sd_username, sd_domain, new_uri, description FROM speed_dial');
    assert.deepEqual({ ...row }, { username: 'alice', domain: 'sip.example.com', sd_username: '11', sd_domain: 'sip.example.com', new_uri: 'sip:bob@sip.example.com', description: 'Bob' });
    assert.deepEqual((await listSpeedDial(db, { user: 'alice@sip.example.com' })).map((r) => [r.short, r.target]), [['11', 'sip:bob@sip.example.com']]);
    await removeSpeedDial(db, 'alice@sip.example.com', '11');
    await assert.rejects(removeSpeedDial(db, 'alice@sip.example.com', '11'), code('SPEEDDIAL_NOT_FOUND', 'not-found'));
    assert.deepEqual(await listSpeedDial(db), []);
  });
});
