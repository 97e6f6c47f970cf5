// The group module's grp table (src/core/acl/acl.ts) on SQLite and MariaDB.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { grant, listAcl, revoke } from '../../../src/core/acl/acl.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat = 'usage') => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

forEachEngine('grp table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('grant, conflict, bad input, dry run, list, revoke one, revoke all, missing', async () => {
    await grant(db, 'alice@sip.example.com', 'int');
    await grant(db, 'alice', 'voicemail', { defaultDomain: 'SIP.example.com' });
    await assert.rejects(grant(db, 'alice@sip.example.com', 'int'), code('ACL_EXISTS', 'conflict'));
    await assert.rejects(grant(db, 'alice@sip.example.com', 'two words'), code('INVALID_GROUP'));
    await assert.rejects(grant(db, 'al ice@sip.example.com', 'int'), code('INVALID_USERNAME'));
    await assert.rejects(grant(db, 'alice', 'int'), code('INVALID_DOMAIN'));
    await grant(db, 'bob@sip.example.com', 'ld', { dryRun: true });
    assert.deepEqual((await listAcl(db)).map((r) => [r.username, r.domain, r.grp]), [['alice', 'sip.example.com', 'int'], ['alice', 'sip.example.com', 'voicemail']]);
    assert.equal((await revoke(db, 'alice@sip.example.com', 'int')).entries.length, 1);
    await assert.rejects(revoke(db, 'alice@sip.example.com', 'int'), code('ACL_NOT_FOUND', 'not-found'));
    assert.equal((await revoke(db, 'alice@sip.example.com', undefined)).entries.length, 1);
    assert.deepEqual(await listAcl(db, { user: 'alice@sip.example.com' }), []);
  });
});
