// The web console's account file: 0600, atomic, scrypt hashes with a salt per user, no secret in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountStore, defaultAccountsFile, hashPassword, verifyPassword } from '../../../src/core/web/accounts.js';
import { isSipctlError } from '../../../src/core/errors.js';

function tmp(): { dir: string; store: AccountStore; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-web-acc-'));
  return { dir, store: new AccountStore(join(dir, 'cfg', 'sipctl', 'web-users.json')), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const codeOf = (e: unknown) => (isSipctlError(e) ? e.code : String(e));

test('the file lives in the sipctl config directory', () => {
  const base = join(tmpdir(), 'sipctl-web-paths');
  assert.equal(defaultAccountsFile({ XDG_CONFIG_HOME: join(base, 'cfg'), HOME: join(base, 'home') }), join(base, 'cfg', 'sipctl', 'web-users.json'));
  assert.equal(defaultAccountsFile({ HOME: join(base, 'home') }), join(base, 'home', '.config', 'sipctl', 'web-users.json'));
});

test('add writes a 0600 file with scrypt hashes (salt per user) and no password; verify checks them', async () => {
  const t = tmp();
  try {
    await t.store.add('ops', 'operator', 'Secret-pass-123');
    await t.store.add('noc', undefined, 'Secret-pass-123');
    const st = statSync(t.store.file);
    assert.equal(st.mode & 0o777, 0o600);
    const text = readFileSync(t.store.file, 'utf8');
    assert.ok(!text.includes('Secret-pass-123'), 'no password in the file');
    const doc = JSON.parse(text) as { users: Array<{ name: string; role: string; hash: string }> };
    assert.deepEqual(doc.users.map((u) => [u.name, u.role]), [['ops', 'operator'], ['noc', 'viewer']]);
    for (const u of doc.users) assert.match(u.hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{86}$/);
    const salts = doc.users.map((u) => u.hash.split('$')[4]);
    assert.notEqual(salts[0], salts[1], 'each account has its own salt, so equal passwords hash differently');
    assert.notEqual(doc.users[0]!.hash, doc.users[1]!.hash);
    assert.deepEqual((await t.store.verify('ops', 'Secret-pass-123'))?.role, 'operator');
    assert.equal(await t.store.verify('ops', 'Secret-pass-124'), undefined);
    assert.equal(await t.store.verify('nobody', 'Secret-pass-123'), undefined);
    assert.deepEqual(t.store.list().map((u) => u.name), ['noc', 'ops']);
    assert.ok(t.store.list().every((u) => !('hash' in u)), 'list never carries hashes');
    // no temporary files left beside it
    assert.deepEqual(readdirSync(join(t.dir, 'cfg', 'sipctl')), ['web-users.json']);
  } finally {
    t.done();
  }
});

test('bad input: one clear error, nothing written', async () => {
  const t = tmp();
  try {
    await t.store.add('ops', 'operator', 'Secret-pass-123');
    const before = readFileSync(t.store.file, 'utf8');
    const cases: Array<[string, string | undefined, string, string]> = [
      ['ops', 'operator', 'Another-pass-123', 'WEB_USER_EXISTS'],
      ['bad name', 'viewer', 'Another-pass-123', 'INVALID_NAME'],
      ['../x', 'viewer', 'Another-pass-123', 'INVALID_NAME'],
      ['eve', 'admin', 'Another-pass-123', 'INVALID_ROLE'],
      ['eve', 'viewer', 'short', 'INVALID_PASSWORD'],
      ['eve', 'viewer', 'xxeve-pass-123', 'INVALID_PASSWORD'],
      ['eve', 'viewer', 'aaaaaaaaaaaa', 'INVALID_PASSWORD'],
    ];
    for (const [name, role, pw, code] of cases) {
      await assert.rejects(t.store.add(name, role, pw), (e) => codeOf(e) === code, `${name} ${role} ${pw} → ${code}`);
    }
    assert.throws(() => t.store.remove('nobody'), (e) => codeOf(e) === 'WEB_USER_NOT_FOUND');
    assert.equal(readFileSync(t.store.file, 'utf8'), before);
    await t.store.add('eve', 'viewer', 'Another-pass-123', { dryRun: true });
    assert.equal(readFileSync(t.store.file, 'utf8'), before, '--dry-run writes nothing');
    t.store.remove('ops');
    assert.deepEqual(t.store.list(), []);
    assert.equal(statSync(t.store.file).mode & 0o777, 0o600);
  } finally {
    t.done();
  }
});

test('a file others can read, or that is not an accounts file, is refused', async () => {
  const t = tmp();
  try {
    await t.store.add('ops', 'operator', 'Secret-pass-123');
    chmodSync(t.store.file, 0o644);
    assert.throws(() => t.store.list(), (e) => codeOf(e) === 'CONFIG_INSECURE_MODE');
    chmodSync(t.store.file, 0o600);
    writeFileSync(t.store.file, '{"users": [{"name": "x"}]}');
    assert.throws(() => t.store.list(), (e) => codeOf(e) === 'WEB_ACCOUNTS_UNREADABLE');
  } finally {
    t.done();
  }
});

test('verifyPassword: right, wrong, malformed', async () => {
  const h = await hashPassword('Correct-horse-1');
  assert.equal(await verifyPassword('Correct-horse-1', h), true);
  assert.equal(await verifyPassword('Correct-horse-2', h), false);
  assert.equal(await verifyPassword('Correct-horse-1', 'plain'), false);
  assert.equal(await verifyPassword('Correct-horse-1', h.replace(/\$32768\$/, '$3$')), false);
});
