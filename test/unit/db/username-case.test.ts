// Usernames that differ only in case are ONE subscriber on both engines (issue 16 part 1), as on
// Kamailio's MySQL schema (latin1 _ci collation + unique key): adding the other case is a conflict,
// show/passwd/rm find the row whatever the case, passwd keeps the ha1 over the stored name, and
// import skips the other case as already present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { SipctlError } from '../../../src/core/errors.js';
import { computeHa1 } from '../../../src/core/subscribers/credentials.js';
import { importSubscribers } from '../../../src/core/subscribers/import.js';
import { addSubscriber, changePassword, getSubscriber, listSubscribers, removeSubscriber } from '../../../src/core/subscribers/subscribers.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

const PW = 'Tr0ub4dor-Horse-77';
const CRED = { hash: 'md5' as const, storePlaintext: false };

forEachEngine('usernames differing only in case', (engine, track) => {
  test('one subscriber: add conflicts, show/passwd/rm find it, ha1 stays over the stored name, import skips', async () => {
    const db = await track(await createTestDb(engine)).open();
    try {
      await addSubscriber(db, 'Alice', 'example.com', PW, CRED);
      await assert.rejects(addSubscriber(db, 'alice', 'example.com', PW, CRED), (e) => e instanceof SipctlError && e.code === 'SUBSCRIBER_EXISTS' && e.category === 'conflict');
      const shown = await getSubscriber(db, 'ALICE', 'example.com', true);
      assert.equal(shown.username, 'Alice', 'the stored spelling');
      await changePassword(db, 'aLiCe', 'example.com', PW + '!', CRED);
      assert.equal((await getSubscriber(db, 'Alice', 'example.com', true)).ha1, computeHa1('Alice', 'example.com', PW + '!').ha1);
      const imp = await importSubscribers(db, Readable.from(['username,domain,password\nalice,example.com,' + PW + '\nbob,example.com,' + PW + '\n']), CRED);
      assert.deepEqual([imp.added, imp.skipped], [1, 1]);
      assert.equal((await listSubscribers(db, { pattern: 'a*' })).subscribers.length, 1, 'list --pattern is case-insensitive too');
      await removeSubscriber(db, 'ALICE', 'example.com');
      await assert.rejects(getSubscriber(db, 'Alice', 'example.com'), (e) => e instanceof SipctlError && e.category === 'not-found');
      assert.deepEqual((await listSubscribers(db)).subscribers.map((s) => s.username), ['bob']);
    } finally {
      await db.close();
    }
  });
});
