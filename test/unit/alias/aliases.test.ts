// The alias_db module's dbaliases table (src/core/alias/aliases.ts) on SQLite and MariaDB.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { addAlias, listAliases, removeAlias } from '../../../src/core/alias/aliases.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat = 'usage') => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

forEachEngine('dbaliases table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('add, conflict, dry run, list by alias and by user, rm, missing', async () => {
    await addAlias(db, '4930123456@sip.example.com', 'alice@sip.example.com');
    await addAlias(db, 'sales', 'alice', { defaultDomain: 'sip.example.com' });
    await assert.rejects(addAlias(db, 'sales@sip.example.com', 'bob@sip.example.com'), code('ALIAS_EXISTS', 'conflict'));
    await assert.rejects(addAlias(db, 'sa les@sip.example.com', 'bob@sip.example.com'), code('INVALID_USERNAME'));
    await addAlias(db, 'support@sip.example.com', 'bob@sip.example.com', { dryRun: true });
    assert.deepEqual((await listAliases(db)).map((r) => [r.alias, r.user]), [['4930123456@sip.example.com', 'alice@sip.example.com'], ['sales@sip.example.com', 'alice@sip.example.com']]);
    assert.equal((await listAliases(db, { user: 'alice@sip.example.com' })).length, 2);
    assert.equal((await listAliases(db, { alias: 'sales@sip.example.com' })).length, 1);
    await removeAlias(db, 'sales@sip.example.com');
    await assert.rejects(removeAlias(db, 'sales@sip.example.com'), code('ALIAS_NOT_FOUND', 'not-found'));
    assert.equal((await listAliases(db)).length, 1);
  });
});
