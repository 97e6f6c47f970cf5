/**
 * Subscriber management against real databases (a SQLite file and a MariaDB database):
 * add/show/passwd/rm, conflicts, dry runs, hostile input, listing, schema guard and CSV import.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createTestDb, forEachEngine, type TestDb } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { ConflictError, NotFoundError, SchemaError, UsageError, ValidationError } from '../../../src/core/errors.js';
import { computeHa1 } from '../../../src/core/subscribers/credentials.js';
import { importSubscribers, openInput, splitCsvLine } from '../../../src/core/subscribers/import.js';
import {
  addSubscriber,
  changePassword,
  getSubscriber,
  globToLike,
  listSubscribers,
  removeSubscriber,
  type CredentialOptions,
} from '../../../src/core/subscribers/subscribers.js';

const CSV_FIXTURE = fileURLToPath(new URL('../../fixtures/foundation/subscribers.csv', import.meta.url));
const ATTACK = "'; DROP TABLE subscriber; --";
const MD5: CredentialOptions = { hash: 'md5', storePlaintext: false };


/** Fails (instead of hanging the suite) when p does not settle within ms. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (hang)`)), ms);
    }),
  ]);
}

interface Raw {
  id: number;
  username: string;
  domain: string;
  password: string;
  ha1: string;
  ha1b: string;
}

async function count(db: Database, where = '', params: string[] = []): Promise<number> {
  const [{ n }] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM subscriber${where}`, params);
  return Number(n);
}
async function raw(db: Database, username: string, domain: string): Promise<Raw | undefined> {
  const rows = await db.query<Raw>('SELECT id, username, domain, password, ha1, ha1b FROM subscriber WHERE username = ? AND domain = ?', [username, domain]);
  return rows[0];
}
async function rejectsWith<T extends Error>(p: Promise<unknown>, cls: new (...a: never[]) => T, code?: string): Promise<T> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (code) assert.equal((e as unknown as { code: string }).code, code);
    return e;
  }
  assert.fail(`expected ${cls.name}${code ? ' ' + code : ''}, but it resolved`);
}

forEachEngine('subscribers', (engine, track) => {
  let t: TestDb;
  let db: Database;
  before(async () => {
    t = track(await createTestDb(engine));
    db = await t.open();
  });
  after(async () => db?.close());

  test('add → show → passwd → rm', async () => {
    const add = await addSubscriber(db, '61312341234', '127.0.0.1', 'supersecretpassword', MD5);
    assert.deepEqual(add, { action: 'add', username: '61312341234', domain: '127.0.0.1', dryRun: false, storedPlaintext: false, hash: 'md5' });
    const row = await raw(db, '61312341234', '127.0.0.1');
    assert.ok(row);
    // the values kamctl 5.6 wrote for the same subscriber
    assert.equal(row.ha1, '4a7cadd345e02b65cd9e2230bdd9128a');
    assert.equal(row.ha1b, '7c65f3b58133f64fa6111dda9c3398a0');
    assert.equal(row.password, '');

    const shown = await getSubscriber(db, '61312341234', '127.0.0.1');
    assert.deepEqual(shown, { id: Number(row.id), username: '61312341234', domain: '127.0.0.1', hasPlaintextPassword: false });
    const revealed = await getSubscriber(db, '61312341234', '127.0.0.1', true);
    assert.equal(revealed.ha1, '4a7cadd345e02b65cd9e2230bdd9128a');
    assert.equal(revealed.ha1b, '7c65f3b58133f64fa6111dda9c3398a0');

    await changePassword(db, '61312341234', '127.0.0.1', 'an0ther-Secret-pw', MD5);
    const after1 = await raw(db, '61312341234', '127.0.0.1');
    assert.deepEqual({ ha1: after1!.ha1, ha1b: after1!.ha1b }, computeHa1('61312341234', '127.0.0.1', 'an0ther-Secret-pw'));
    assert.equal(after1!.id, row.id);

    const rm = await removeSubscriber(db, '61312341234', '127.0.0.1');
    assert.deepEqual(rm, { action: 'rm', username: '61312341234', domain: '127.0.0.1', dryRun: false });
    assert.equal(await raw(db, '61312341234', '127.0.0.1'), undefined);
    await rejectsWith(getSubscriber(db, '61312341234', '127.0.0.1'), NotFoundError, 'SUBSCRIBER_NOT_FOUND');
  });

  test('adding an existing subscriber is a conflict and leaves the row alone', async () => {
    await addSubscriber(db, 'dup', 'example.com', 'First-passw0rd', MD5);
    const before1 = await raw(db, 'dup', 'example.com');
    const e = await rejectsWith(addSubscriber(db, 'dup', 'example.com', 'Second-passw0rd', { hash: 'md5', storePlaintext: true }), ConflictError, 'SUBSCRIBER_EXISTS');
    assert.equal(e.category, 'conflict');
    assert.deepEqual(await raw(db, 'dup', 'example.com'), before1);
    assert.equal(await count(db, ' WHERE username = ?', ['dup']), 1);
    // the same user in another domain is someone else
    await addSubscriber(db, 'dup', 'example.org', 'Second-passw0rd', MD5);
    assert.equal(await count(db, ' WHERE username = ?', ['dup']), 2);
  });

  test('passwd and rm of a missing subscriber are NotFound and change nothing', async () => {
    const n = await count(db);
    await rejectsWith(changePassword(db, 'ghost', 'example.com', 'Whatever-passw0rd', MD5), NotFoundError, 'SUBSCRIBER_NOT_FOUND');
    await rejectsWith(removeSubscriber(db, 'ghost', 'example.com'), NotFoundError, 'SUBSCRIBER_NOT_FOUND');
    await rejectsWith(removeSubscriber(db, 'ghost', 'example.com', { dryRun: true }), NotFoundError, 'SUBSCRIBER_NOT_FOUND');
    assert.equal(await count(db), n);
  });

  test('the plaintext password is stored only with storePlaintext, and passwd without it clears it', async () => {
    await addSubscriber(db, 'clearuser', 'example.com', 'Plain-text-pw1', { hash: 'md5', storePlaintext: true });
    assert.equal((await raw(db, 'clearuser', 'example.com'))!.password, 'Plain-text-pw1');
    assert.equal((await getSubscriber(db, 'clearuser', 'example.com')).hasPlaintextPassword, true);
    await changePassword(db, 'clearuser', 'example.com', 'Hashed-only-pw2', MD5);
    const row = (await raw(db, 'clearuser', 'example.com'))!;
    assert.equal(row.password, '');
    assert.equal(row.ha1, computeHa1('clearuser', 'example.com', 'Hashed-only-pw2').ha1);
  });

  test('sha256 hashing fills 64-hex ha1/ha1b', async () => {
    await addSubscriber(db, 'sha', '127.0.0.1', 'supersecretpassword', { hash: 'sha256', storePlaintext: false });
    const row = (await raw(db, 'sha', '127.0.0.1'))!;
    assert.equal(row.ha1, computeHa1('sha', '127.0.0.1', 'supersecretpassword', 'sha256').ha1);
    assert.match(row.ha1, /^[0-9a-f]{64}$/);
  });

  test('dry runs validate but change nothing', async () => {
    const n = await count(db);
    const r = await addSubscriber(db, 'drynew', 'example.com', 'Dry-run-passw0rd', { ...MD5, dryRun: true });
    assert.equal(r.dryRun, true);
    assert.equal(await raw(db, 'drynew', 'example.com'), undefined);
    await rejectsWith(addSubscriber(db, 'drynew', 'example.com', 'weak', { ...MD5, dryRun: true }), ValidationError, 'INVALID_PASSWORD');

    await addSubscriber(db, 'dryold', 'example.com', 'Dry-run-passw0rd', MD5);
    const before1 = await raw(db, 'dryold', 'example.com');
    await changePassword(db, 'dryold', 'example.com', 'Changed-passw0rd', { ...MD5, dryRun: true });
    assert.deepEqual(await raw(db, 'dryold', 'example.com'), before1);
    await removeSubscriber(db, 'dryold', 'example.com', { dryRun: true });
    assert.deepEqual(await raw(db, 'dryold', 'example.com'), before1);
    await rejectsWith(addSubscriber(db, 'dryold', 'example.com', 'Dry-run-passw0rd', { ...MD5, dryRun: true }), ConflictError, 'SUBSCRIBER_EXISTS');
    assert.equal(await count(db), n + 1);
  });

  test('a weak password is refused before anything is written', async () => {
    await rejectsWith(addSubscriber(db, 'weakling', 'example.com', 'password', MD5), ValidationError, 'INVALID_PASSWORD');
    assert.equal(await raw(db, 'weakling', 'example.com'), undefined);
    await addSubscriber(db, 'weakling', 'example.com', 'password', { ...MD5, allowWeak: true });
    assert.ok(await raw(db, 'weakling', 'example.com'));
  });

  test('an SQL injection string as username or domain is a ValidationError; the table survives', async () => {
    const n = await count(db);
    await rejectsWith(addSubscriber(db, ATTACK, 'example.com', 'Str0ng-passw0rd', MD5), ValidationError, 'INVALID_USERNAME');
    await rejectsWith(addSubscriber(db, 'mallory', ATTACK, 'Str0ng-passw0rd', MD5), ValidationError, 'INVALID_DOMAIN');
    await rejectsWith(changePassword(db, ATTACK, 'example.com', 'Str0ng-passw0rd', MD5), ValidationError);
    await rejectsWith(removeSubscriber(db, ATTACK, 'example.com'), ValidationError);
    await rejectsWith(getSubscriber(db, ATTACK, 'example.com'), ValidationError);
    assert.equal(await count(db), n, 'subscriber table still exists with the same rows');
  });

  test('an SQL injection string as a list pattern or domain matches nothing and harms nothing', async () => {
    const n = await count(db);
    await rejectsWith(listSubscribers(db, { domain: ATTACK }), ValidationError, 'INVALID_DOMAIN');
    // the pattern is a bound parameter, not SQL
    assert.deepEqual(await listSubscribers(db, { pattern: ATTACK }), { total: 0, subscribers: [] });
    assert.equal(await count(db), n);
  });

  test("RFC 3261 allows ' in a user part: it is stored verbatim (bound, not quoted); \" is refused", async () => {
    const sneaky = "o'brien;--/*";
    await addSubscriber(db, sneaky, 'example.com', 'Str0ng-passw0rd', MD5);
    assert.equal((await getSubscriber(db, sneaky, 'example.com')).username, sneaky);
    assert.equal(await count(db, ' WHERE username = ?', [sneaky]), 1);
    await rejectsWith(addSubscriber(db, 'bob";', 'example.com', 'Str0ng-passw0rd', MD5), ValidationError, 'INVALID_USERNAME');
    await removeSubscriber(db, sneaky, 'example.com');
  });

  test('addSubscriber validates by itself (library callers skip splitAor)', async () => {
    await rejectsWith(addSubscriber(db, 'x'.repeat(65), 'example.com', 'Str0ng-passw0rd', MD5), ValidationError, 'INVALID_USERNAME');
    await rejectsWith(addSubscriber(db, 'ok', 'a..b', 'Str0ng-passw0rd', MD5), ValidationError, 'INVALID_DOMAIN');
    await rejectsWith(addSubscriber(db, 'ok', 'example.com', 'x'.repeat(65), { ...MD5, allowWeak: true }), ValidationError, 'INVALID_PASSWORD');
  });
});

forEachEngine('listSubscribers', (engine, track) => {
  let db: Database;
  const names = ['a_c', 'abc', 'axc', 'a%25b', 'ax25b', 'axx25b', 'bob', 'bobby', 'carol'];
  before(async () => {
    db = await track(await createTestDb(engine)).open();
    for (const u of names) await addSubscriber(db, u, 'one.example', 'Str0ng-passw0rd', MD5);
    await addSubscriber(db, 'bob', 'two.example', 'Str0ng-passw0rd', MD5);
    for (let i = 0; i < 25; i++) await addSubscriber(db, `pg${String(i).padStart(2, '0')}`, 'page.example', 'Str0ng-passw0rd', MD5);
  });
  after(async () => db?.close());

  const users = async (o: Parameters<typeof listSubscribers>[1]) => (await listSubscribers(db, o)).subscribers.map((s) => `${s.username}@${s.domain}`);

  test('domain filter', async () => {
    assert.deepEqual(await users({ domain: 'two.example' }), ['bob@two.example']);
    const one = await listSubscribers(db, { domain: 'one.example' });
    assert.equal(one.total, names.length);
    assert.deepEqual(one.subscribers.map((s) => s.username).sort(), [...names].sort());
    assert.ok(one.subscribers.every((s) => s.domain === 'one.example'));
    assert.deepEqual(await users({ domain: 'none.example' }), []);
  });

  test('glob patterns: * and ?', async () => {
    assert.deepEqual(await users({ pattern: 'bob*' }), ['bob@one.example', 'bobby@one.example', 'bob@two.example']);
    assert.deepEqual(await users({ pattern: 'bob*', domain: 'one.example' }), ['bob@one.example', 'bobby@one.example']);
    assert.deepEqual((await users({ pattern: 'a?c', domain: 'one.example' })).sort(), ['a_c@one.example', 'abc@one.example', 'axc@one.example']);
    assert.deepEqual(await users({ pattern: 'carol' }), ['carol@one.example']);
    assert.deepEqual(await users({ pattern: 'car' }), [], 'no implicit wildcard');
  });

  test('literal % and _ in names are not wildcards', async () => {
    assert.deepEqual(await users({ pattern: 'a_c' }), ['a_c@one.example']);
    assert.deepEqual(await users({ pattern: 'a%25b' }), ['a%25b@one.example']);
    assert.deepEqual(await users({ pattern: 'a%*' }), ['a%25b@one.example']);
    assert.deepEqual(await users({ pattern: '*_*' }), ['a_c@one.example']);
    assert.equal(globToLike('a_b%c*d?!'), 'a!_b!%c%d_!!');
  });

  test('paging: limit and offset walk the rows in a stable order without overlap', async () => {
    const pages = [];
    for (let off = 0; off < 30; off += 10) pages.push(await listSubscribers(db, { domain: 'page.example', limit: 10, offset: off }));
    assert.deepEqual(pages.map((p) => p.subscribers.length), [10, 10, 5]);
    for (const p of pages) assert.equal(p.total, 25);
    const all = pages.flatMap((p) => p.subscribers.map((s) => s.username));
    assert.deepEqual(all, Array.from({ length: 25 }, (_, i) => `pg${String(i).padStart(2, '0')}`));
    assert.deepEqual((await listSubscribers(db, { domain: 'page.example', limit: 10, offset: 100 })).subscribers, []);
  });

  test('ha1/ha1b only with reveal; never a password field', async () => {
    const plain = (await listSubscribers(db, { domain: 'one.example' })).subscribers.find((x) => x.username === 'carol')!;
    assert.deepEqual(Object.keys(plain).sort(), ['domain', 'hasPlaintextPassword', 'id', 'username']);
    const rev = (await listSubscribers(db, { domain: 'one.example', reveal: true })).subscribers.find((x) => x.username === 'carol')!;
    assert.equal(rev.ha1, computeHa1('carol', 'one.example', 'Str0ng-passw0rd').ha1);
    assert.ok(!('password' in rev));
  });

  test('bad filters are usage errors', async () => {
    await rejectsWith(listSubscribers(db, { domain: 'bad..domain' }), ValidationError, 'INVALID_DOMAIN');
    await rejectsWith(listSubscribers(db, { pattern: '*'.repeat(129) }), UsageError, 'BAD_PATTERN');
  });
});

forEachEngine('schema guard', (engine, track) => {
  test('a subscriber version row changed to 6 stops every write, and nothing is written', async () => {
    const t = track(await createTestDb(engine));
    const setup = await t.open();
    await addSubscriber(setup, 'keep', 'example.com', 'Str0ng-passw0rd', MD5);
    await setup.execute("UPDATE version SET table_version = 6 WHERE table_name = 'subscriber'");
    await setup.close();

    const db = await t.open(); // a new handle: the writability check is cached per handle
    try {
      const before1 = await raw(db, 'keep', 'example.com');
      const e = await rejectsWith(addSubscriber(db, 'newbie', 'example.com', 'Str0ng-passw0rd', MD5), SchemaError, 'SCHEMA_VERSION_MISMATCH');
      assert.equal(e.category, 'schema');
      assert.match(e.message, /version 6.*version 7/);
      await rejectsWith(changePassword(db, 'keep', 'example.com', 'Other-passw0rd', MD5), SchemaError, 'SCHEMA_VERSION_MISMATCH');
      await rejectsWith(removeSubscriber(db, 'keep', 'example.com'), SchemaError, 'SCHEMA_VERSION_MISMATCH');
      await rejectsWith(importSubscribers(db, Readable.from(['username,domain,password\nimp,example.com,Str0ng-passw0rd\n']), MD5), SchemaError, 'SCHEMA_VERSION_MISMATCH');
      assert.equal(await count(db), 1);
      assert.deepEqual(await raw(db, 'keep', 'example.com'), before1);
      // reading still works
      assert.equal((await getSubscriber(db, 'keep', 'example.com')).username, 'keep');
    } finally {
      await db.close();
    }
  });

  test('no version row, or no schema at all, is SCHEMA_MISSING', async () => {
    const t = track(await createTestDb(engine));
    const setup = await t.open();
    await setup.execute("DELETE FROM version WHERE table_name = 'subscriber'");
    await setup.close();
    const db = await t.open();
    try {
      const e = await rejectsWith(addSubscriber(db, 'x', 'example.com', 'Str0ng-passw0rd', MD5), SchemaError, 'SCHEMA_MISSING');
      assert.match(e.hint ?? '', /db init/);
      assert.equal(await count(db), 0);
    } finally {
      await db.close();
    }

    const empty = track(await createTestDb(engine, { init: false }));
    const edb = await empty.open();
    try {
      await rejectsWith(addSubscriber(edb, 'x', 'example.com', 'Str0ng-passw0rd', MD5), SchemaError, 'SCHEMA_MISSING');
    } finally {
      await edb.close();
    }
  });
});

describe('splitCsvLine', () => {
  test('RFC 4180 quoting', () => {
    assert.deepEqual(splitCsvLine('a,b,c'), ['a', 'b', 'c']);
    assert.deepEqual(splitCsvLine('"a,b","c""d",'), ['a,b', 'c"d', '']);
    assert.deepEqual(splitCsvLine(''), ['']);
    assert.deepEqual(splitCsvLine(',,'), ['', '', '']);
    assert.throws(() => splitCsvLine('"open,b'), (e: unknown) => e instanceof UsageError && e.code === 'CSV_UNTERMINATED_QUOTE');
  });
});

forEachEngine('importSubscribers', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('good rows added, existing skipped, bad rows rejected with their line numbers', async () => {
    await addSubscriber(db, 'existing', 'example.com', 'Original-passw0rd', MD5);
    const existingBefore = await raw(db, 'existing', 'example.com');
    const s = await importSubscribers(db, createReadStream(CSV_FIXTURE), { ...MD5, defaultDomain: 'default.example' });
    assert.equal(s.added, 4);
    assert.equal(s.skipped, 1);
    assert.equal(s.rejected, 6);
    assert.deepEqual(s.rejections.map((r) => r.line), [6, 7, 8, 9, 11, 14]);
    const reason = (line: number) => s.rejections.find((r) => r.line === line)!.reason;
    assert.match(reason(6), /username.*space/);
    assert.match(reason(7), /domain/);
    assert.match(reason(8), /password.*weak/);
    assert.match(reason(9), /appears earlier in the file/);
    assert.match(reason(11), /expected 3 fields, got 2/);
    assert.match(reason(14), /unterminated/);
    for (const r of s.rejections) assert.ok(!r.reason.includes('Val1d-passw0rd'), 'rejections do not echo passwords');
    assert.equal(s.rolledBack, false);

    assert.deepEqual(await raw(db, 'existing', 'example.com'), existingBefore, 'existing row is not touched');
    assert.equal((await raw(db, 'alice', 'example.com'))!.ha1, computeHa1('alice', 'example.com', 'Str0ng-Passw0rd').ha1);
    assert.equal((await raw(db, 'bob', 'example.com'))!.ha1, computeHa1('bob', 'example.com', 'An0ther-g00d-one').ha1);
    // quoted fields: the comma and the doubled quote are part of the password
    assert.equal((await raw(db, 'eve', 'example.com'))!.ha1, computeHa1('eve', 'example.com', 'pa,ss"w0rd-xyz').ha1);
    // empty domain column takes the default domain
    assert.equal((await raw(db, 'grace', 'default.example'))!.ha1, computeHa1('grace', 'default.example', 'Gr4ce-pass-word').ha1);
    assert.equal((await raw(db, 'alice', 'example.com'))!.password, '', 'no plaintext without storePlaintext');
    assert.equal(await count(db), 5);
    for (const u of ['john doe', 'carol', 'dave', 'frank', 'heidi']) assert.equal(await count(db, ' WHERE username = ?', [u]), 0, u);
  });

  test('--atomic: one bad row means nothing is written', async () => {
    const n = await count(db);
    const csv = 'username,domain,password\nat1,atomic.example,Str0ng-passw0rd\nat2,atomic.example,Str0ng-passw0rd\nbad user,atomic.example,Str0ng-passw0rd\n';
    const s = await within(importSubscribers(db, Readable.from([csv]), { ...MD5, atomic: true, batchSize: 1 }), 3000, 'atomic import');
    assert.equal(s.rolledBack, true);
    assert.equal(s.added, 0);
    assert.deepEqual(s.rejections.map((r) => r.line), [4]);
    assert.equal(await count(db), n);
    assert.equal(await count(db, ' WHERE domain = ?', ['atomic.example']), 0);

    const ok = await within(importSubscribers(db, Readable.from([csv.split('\n').slice(0, 3).join('\n')]), { ...MD5, atomic: true, batchSize: 1 }), 3000, 'atomic import');
    assert.deepEqual({ added: ok.added, rejected: ok.rejected, rolledBack: ok.rolledBack }, { added: 2, rejected: 0, rolledBack: false });
    assert.equal(await count(db, ' WHERE domain = ?', ['atomic.example']), 2);
  });

  test('dry run reports but writes nothing', async () => {
    const n = await count(db);
    const s = await importSubscribers(db, Readable.from(['username,domain,password\ndry1,dry.example,Str0ng-passw0rd\n']), { ...MD5, dryRun: true });
    assert.deepEqual({ added: s.added, dryRun: s.dryRun }, { added: 1, dryRun: true });
    assert.equal(await count(db), n);
  });

  test('storePlaintext and sha256 apply to imported rows', async () => {
    await importSubscribers(db, Readable.from(['username,password,domain\npt1,Plain-passw0rd,pt.example\n']), { hash: 'sha256', storePlaintext: true });
    const row = (await raw(db, 'pt1', 'pt.example'))!;
    assert.equal(row.password, 'Plain-passw0rd');
    assert.equal(row.ha1, computeHa1('pt1', 'pt.example', 'Plain-passw0rd', 'sha256').ha1);
  });

  test('a stdin-like stream split mid-line, with CRLF and a BOM, is read correctly', async () => {
    const text = '\uFEFFusername,domain,password\r\nst1,stream.example,Str0ng-passw0rd\r\nst2,stream.example,"Str0ng,passw0rd"\r\n';
    const chunks = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(Buffer.from(text.slice(i, i + 7)));
    const input = openInput('-', Readable.from(chunks));
    const s = await importSubscribers(db, input, MD5);
    assert.deepEqual({ added: s.added, rejected: s.rejected }, { added: 2, rejected: 0 }, JSON.stringify(s.rejections));
    assert.equal((await raw(db, 'st2', 'stream.example'))!.ha1, computeHa1('st2', 'stream.example', 'Str0ng,passw0rd').ha1);
  });

  test('a missing header, or no input at all, is a usage error', async () => {
    await rejectsWith(importSubscribers(db, Readable.from(['user,pass\nx,y\n']), MD5), UsageError, 'CSV_BAD_HEADER');
    await rejectsWith(importSubscribers(db, Readable.from(['']), MD5), UsageError, 'CSV_EMPTY');
    await rejectsWith(importSubscribers(db, Readable.from(['username,password\nnodomain,Str0ng-passw0rd\n']), MD5).then((s) => {
      // a row without domain and no default is a rejection, not a crash
      assert.equal(s.rejected, 1);
      assert.match(s.rejections[0].reason, /no domain/);
      throw new UsageError('OK', 'checked');
    }), UsageError, 'OK');
  });

  test('2,000 rows: all counted, all present, and a second run skips them all', async () => {
    const lines = ['username,domain,password'];
    for (let i = 0; i < 2000; i++) lines.push(`bulk${i},bulk.example,Bulk-passw0rd-${i}`);
    const csv = lines.join('\n') + '\n';
    const s = await importSubscribers(db, Readable.from([csv]), MD5);
    assert.deepEqual({ added: s.added, skipped: s.skipped, rejected: s.rejected }, { added: 2000, skipped: 0, rejected: 0 });
    assert.equal(await count(db, ' WHERE domain = ?', ['bulk.example']), 2000);
    assert.equal((await raw(db, 'bulk1999', 'bulk.example'))!.ha1, computeHa1('bulk1999', 'bulk.example', 'Bulk-passw0rd-1999').ha1);
    const again = await importSubscribers(db, Readable.from([csv]), MD5);
    assert.deepEqual({ added: again.added, skipped: again.skipped }, { added: 0, skipped: 2000 });
    assert.equal(await count(db, ' WHERE domain = ?', ['bulk.example']), 2000);
  });
});

test('fixture sanity: the CSV fixture has the lines the import test refers to', () => {
  const lines = readFileSync(CSV_FIXTURE, 'utf8').split('\n');
  assert.equal(lines[5], 'john doe,example.com,Val1d-passw0rd');
  assert.equal(lines[13], '"heidi,example.com,unterminated');
});
