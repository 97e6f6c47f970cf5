// sipctl batch with the database commands (issue 12): 1,000 `passwd` lines in ONE process over
// ONE database connection, on SQLite and MariaDB — on MariaDB the account may open one
// connection per hour while the batch runs, so a second connection would fail the lines. A bad
// line (weak password, unknown user, missing password) fails alone with its line number; the
// lines around it are applied; passwords are never echoed; the first password line warns once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine, type TestDb } from '../helpers/db.js';

const N = 1000;
const DOMAIN = 'batch.example.com';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const pw = (i: number, gen: string) => `Pw-${gen}-${i}-${randomBytes(4).toString('hex')}`;

/** While `body` runs, the MariaDB account of `t` may open only one connection (per hour). */
async function oneConnectionOnly<T>(t: TestDb, body: () => Promise<T>): Promise<T> {
  const mysql = await import('mysql2/promise');
  const admin = await mysql.createConnection({ socketPath: '/run/mysqld/mysqld.sock', user: 'root' });
  const user = /^mysql:\/\/([^@]+)@/.exec(t.url)![1]!;
  try {
    for (const host of ['127.0.0.1', 'localhost']) await admin.query('ALTER USER ?@? WITH MAX_CONNECTIONS_PER_HOUR 1', [user, host]);
    await admin.query('FLUSH USER_RESOURCES');
    return await body();
  } finally {
    for (const host of ['127.0.0.1', 'localhost']) await admin.query('ALTER USER ?@? WITH MAX_CONNECTIONS_PER_HOUR 0', [user, host]);
    await admin.query('FLUSH USER_RESOURCES');
    await admin.end();
  }
}

forEachEngine('batch: database lines', (engine, track) => {
  test(`${N} passwd lines: one process, one connection, all applied; bad lines fail alone with their line number`, { timeout: 600_000 }, async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_DOMAIN: DOMAIN });
    const first = Array.from({ length: N }, (_, i) => pw(i, 'a'));
    const adds = first.map((p, i) => `add user${i} ${p}`).join('\n') + '\n';
    const added = await runSipctl(['batch', '--store-plaintext'], { env, input: adds, timeoutMs: 300_000 });
    assert.equal(added.code, 0, added.stderr.slice(0, 2000));
    assert.equal(added.stdout.trim().split('\n').length, N);

    const next = Array.from({ length: N }, (_, i) => pw(i, 'b'));
    const lines = next.map((p, i) => `passwd user${i}@${DOMAIN} ${p}`);
    lines.splice(500, 0, 'passwd user7 Qz7tiny', 'passwd ghost Xy7-unknown-user-9', '# a comment', 'passwd user8');
    const run = () => runSipctl(['batch', '--json'], { env, input: lines.join('\n') + '\n', timeoutMs: 300_000 });
    const r = engine === 'mysql' ? await oneConnectionOnly(t, run) : await run();

    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; command: string; ok: boolean; error?: { code: string; message: string } });
    assert.equal(out.length, N + 3, 'one result per command line (the comment is skipped)');
    const failed = out.filter((o) => !o.ok);
    assert.deepEqual(failed.map((o) => [o.line, o.error!.code]), [[501, 'INVALID_PASSWORD'], [502, 'SUBSCRIBER_NOT_FOUND'], [504, 'PASSWORD_REQUIRED']], JSON.stringify(failed));
    assert.equal(out.filter((o) => o.ok).length, N, 'every other line applied (on MariaDB: over the one connection allowed)');
    assert.equal(r.code, 2, 'the first failure\'s category: usage');
    assert.match(r.stderr, /"message":"3 of 1003 line\(s\) failed; first: line 501: password: is too weak/);
    assert.equal(r.stderr.match(/passwords are read from the input/g)?.length, 1, 'warned once');
    for (const p of [...next, 'Qz7tiny']) assert.ok(!r.stdout.includes(p) && !r.stderr.includes(p), 'no password echoed');

    const db = await t.open();
    try {
      const rows = await db.query<{ username: string; ha1: string; password: string }>('SELECT username, ha1, password FROM subscriber WHERE domain = ?', [DOMAIN]);
      assert.equal(rows.length, N);
      const byUser = new Map(rows.map((x) => [x.username, x]));
      for (let i = 0; i < N; i++) {
        const row = byUser.get(`user${i}`)!;
        assert.equal(row.ha1, md5(`user${i}:${DOMAIN}:${next[i]}`), `user${i} has the new password`);
        assert.equal(row.password, next[i], 'the row keeps its storage mode (plaintext)');
      }
    } finally {
      await db.close();
    }
  });

  test('address add|rm|show and subscriber show in one batch; rm needs --yes; the text output', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
    const input = ['address add 1 192.0.2.10 --tag gw', 'address add 1 192.0.2.10', 'address show', 'address rm 1 192.0.2.10', 'address rm 1 192.0.2.10 --yes', 'address show --group 1', 'subscriber add carol@example.org Qm4-vX8z-Lp3w', 'show carol@example.org', 'rm carol@example.org --yes', 'show'].join('\n') + '\n';
    const r = await runSipctl(['batch'], { env, input });
    assert.equal(r.stdout, [
      '1\tok\tadded 192.0.2.10/32 port 0 to group 1',
      `2\terror\t${/2\terror\t(.*)/.exec(r.stdout)?.[1] ?? ''}`,
      '3\tok\t1 entr(ies)',
      '4\terror\taddress rm 1 192.0.2.10 needs confirmation',
      '5\tok\tremoved 1 entr(ies) of 192.0.2.10 from group 1',
      '6\tok\t0 entr(ies)',
      '7\tok\tadded subscriber carol@example.org',
      '8\tok\t1 subscriber(s)',
      '9\tok\tremoved subscriber carol@example.org',
      '10\tok\t0 subscriber(s)',
      '',
    ].join('\n'));
    assert.match(r.stdout, /^2\terror\t.*(exists|already)/m, 'a duplicate address is a conflict');
    assert.equal(r.code, 4, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /Qm4-vX8z-Lp3w/);
  });
});
