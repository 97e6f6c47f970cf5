// SIM keys encrypted at rest through the BUILT sipctl (issue 16 part 4), on SQLite and MariaDB:
// add / import / show --reveal / vector / resync / export with a key-encryption key from a 0600
// file or SIPCTL_SIM_KEK, db status naming the mode and key ids, sim rekey to a new key and to
// plain storage, and the refusals (no key, wrong key, a KEK file others can read: exit 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAuts, generateVector } from '../../src/core/sim/milenage.js';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';

const KI = '465b5ce8b199b49faa5f0a2ee238a6bc';
const OPC = 'cd63cb71954a9f4e48a5994e37a02baf';
const IMSI = '001010000000001';
const KEK_A = '1f'.repeat(32);
const KEK_B = '2e'.repeat(32);

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
function oneLine(r: RunResult, code: number, re: RegExp): void {
  assert.equal(r.code, code, show(r));
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, show(r));
  assert.match(lines[0], re);
  assert.ok(!(r.stdout + r.stderr).includes(KI) && !(r.stdout + r.stderr).includes(KEK_A), 'no key in the output');
}

forEachEngine('sipctl sim with keys encrypted at rest (built CLI)', (engine, track) => {
  test('add/import/show/vector/resync/export with a KEK; db status; rekey to a new key and to plain', async () => {
    const t = track(await createTestDb(engine));
    const dir = mkdtempSync(join(tmpdir(), 'sipctl-kek-cli-'));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    try {
      const file = (name: string, text: string, mode = 0o600) => {
        const p = join(dir, name);
        writeFileSync(p, text, { mode });
        chmodSync(p, mode);
        return p;
      };
      const kekA = file('kek-a.hex', KEK_A + '\n');
      const kekB = file('kek-b.hex', KEK_B + '\n');
      const kiFile = file('ki.hex', KI + '\n');
      const opcFile = file('opc.hex', OPC + '\n');
      const withA = { SIPCTL_SIM_KEK_FILE: kekA };
      const s = (args: string[], extra: Record<string, string> = {}, input?: string) => runSipctl(args, { env: { ...env, ...extra }, input });
      const db = await t.open();
      const stored = async (imsi: string) => (await db.query<{ ki: string; opc: string; key_id: string | null }>('SELECT ki, opc, key_id FROM sim WHERE imsi = ?', [imsi]))[0];
      try {
        const add = await s(['sim', 'add', IMSI, '--ki-file', kiFile, '--opc-file', opcFile, '--json'], withA);
        assert.equal(add.code, 0, show(add));
        assert.equal(JSON.parse(add.stdout).encrypted, true);
        const row = await stored(IMSI);
        assert.ok(row.ki.startsWith('enc:') && row.opc.startsWith('enc:'), JSON.stringify(row));
        const status = JSON.parse((await s(['db', 'status', '--json'])).stdout);
        assert.equal(status.simKeys.mode, 'encrypted');
        const keyA = Object.keys(status.simKeys.encrypted)[0];
        assert.match(keyA, /^[0-9a-f]{16}$/);
        assert.match((await s(['db', 'status'])).stderr, new RegExp(`sim keys: encrypted, key id ${keyA} \\(1\\)`));

        // show: masked without a key; --reveal opens with it; without it / with another: exit 10, one line.
        assert.equal(JSON.parse((await s(['sim', 'show', IMSI, '--json'])).stdout).ki, '****');
        assert.equal(JSON.parse((await s(['sim', 'show', IMSI, '--reveal', '--json'], withA)).stdout).ki, KI);
        assert.equal(JSON.parse((await s(['sim', 'show', IMSI, '--reveal', '--json'], { SIPCTL_SIM_KEK: KEK_A })).stdout).opc, OPC, 'the key from the environment');
        oneLine(await s(['sim', 'show', IMSI, '--reveal']), 10, /^sipctl: sim 001010000000001: Ki and OPc are encrypted \(key id [0-9a-f]{16}\) and no key-encryption key is configured/);
        oneLine(await s(['sim', 'show', IMSI, '--reveal'], { SIPCTL_SIM_KEK_FILE: kekB }), 10, /encrypted with key id .* but the configured key-encryption key has id/);
        chmodSync(kekA, 0o644);
        oneLine(await s(['sim', 'show', IMSI, '--reveal'], withA), 10, /is readable by group or others/);
        chmodSync(kekA, 0o600);
        oneLine(await s(['sim', 'add', '001010000000002', '--ki-file', kiFile, '--random-op']), 10, /holds encrypted cards/);

        // vector and resync through the encrypted row.
        const rand = '23553cbe9637a89d218ae64dae47bf35';
        oneLine(await s(['sim', 'vector', IMSI, '--rand', rand]), 10, /no key-encryption key/);
        const v = JSON.parse((await s(['sim', 'vector', IMSI, '--rand', rand, '--json'], withA)).stdout);
        const ref = generateVector({ ki: Buffer.from(KI, 'hex'), opc: Buffer.from(OPC, 'hex'), sqn: Buffer.from(v.sqn, 'hex'), amf: Buffer.from('8000', 'hex'), rand: Buffer.from(rand, 'hex') });
        assert.deepEqual([v.sqn, v.autn, v.xres], ['000000000020', ref.autn.toString('hex'), ref.xres.toString('hex')]);
        const auts = buildAuts({ ki: Buffer.from(KI, 'hex'), opc: Buffer.from(OPC, 'hex'), rand: Buffer.from(rand, 'hex'), sqn: Buffer.from('000000000800', 'hex') }).toString('hex');
        const rs = await s(['sim', 'resync', IMSI, '--rand', rand, '--auts', auts, '--json'], withA);
        assert.equal(rs.code, 0, show(rs));
        assert.equal(JSON.parse(rs.stdout).sqnMs, '000000000800');

        // import under the key; export --reveal opens every row (file 0600).
        const csv = file('cards.csv', ['imsi,ki,opc,batch', `001010000000010,000102030405060708090a0b0c0d0e0f,${OPC},b1`, `001010000000011,101112131415161718191a1b1c1d1e1f,${OPC},b1`].join('\n') + '\n');
        const imp = await s(['sim', 'import', csv, '--json'], withA);
        assert.equal(imp.code, 0, show(imp));
        assert.equal(JSON.parse(imp.stdout).added, 2);
        assert.equal((await stored('001010000000011')).key_id, keyA);
        const out = join(dir, 'export.csv');
        assert.equal((await s(['sim', 'export', '--reveal', '--output', out], withA)).code, 0);
        const exported = readFileSync(out, 'utf8');
        assert.match(exported, new RegExp(`${IMSI},,,${KI},${OPC},8000,000000000800,,`));
        assert.match(exported, /001010000000011,,,101112131415161718191a1b1c1d1e1f,/);
        assert.ok(!exported.includes('enc:'));

        // rekey: wrong old key changes nothing; then A → B; then B → plain.
        const kekC = file('kek-c.hex', '3d'.repeat(32) + '\n');
        oneLine(await s(['sim', 'rekey', '--new-kek-file', kekC], { SIPCTL_SIM_KEK_FILE: kekB }), 10, /encrypted with key id/);
        assert.equal((await stored(IMSI)).key_id, keyA, 'a failed rekey changes nothing');
        oneLine(await s(['sim', 'rekey'], withA), 2, /give exactly one of --new-kek-file and --to-plain/);
        const rk = await s(['sim', 'rekey', '--new-kek-file', kekB, '--json'], withA);
        assert.equal(rk.code, 0, show(rk));
        const rkr = JSON.parse(rk.stdout);
        assert.deepEqual([rkr.changed, rkr.unchanged], [3, 0]);
        const afterB = JSON.parse((await s(['db', 'status', '--json'])).stdout).simKeys;
        assert.deepEqual([afterB.mode, Object.keys(afterB.encrypted)], ['encrypted', [rkr.to]]);
        assert.notEqual(rkr.to, keyA);
        oneLine(await s(['sim', 'vector', IMSI], withA), 10, /encrypted with key id/);
        assert.equal(JSON.parse((await s(['sim', 'vector', IMSI, '--json'], { SIPCTL_SIM_KEK_FILE: kekB })).stdout).sqn, '000000000820');
        const plain = await s(['sim', 'rekey', '--to-plain', '--json'], { SIPCTL_SIM_KEK_FILE: kekB });
        assert.equal(JSON.parse(plain.stdout).changed, 3, show(plain));
        assert.equal(JSON.parse((await s(['db', 'status', '--json'])).stdout).simKeys.mode, 'plain');
        assert.deepEqual(await stored(IMSI), { ki: KI, opc: OPC, key_id: null });
        assert.equal(JSON.parse((await s(['sim', 'show', IMSI, '--reveal', '--json'])).stdout).ki, KI);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(env.HOME!, { recursive: true, force: true });
    }
  });
});
