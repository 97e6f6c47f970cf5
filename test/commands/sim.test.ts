// `sipctl sim …` as a user runs it: the BUILT bin (npx tsc -p tsconfig.json && npx oclif manifest
// first), real stdout/stderr/exit codes, on SQLite and MariaDB. Malformed input exits 2 with one
// line on stderr and writes nothing; no key appears in any output unless --reveal asks for it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, forEachEngine, type TestDb } from '../helpers/db.js';
import { SIPCTL, isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import type { Database } from '../../src/core/db/database.js';
import { buildAuts, deriveOpcHex } from '../../src/core/sim/milenage.js';
import { MILENAGE_TEST_SETS } from '../../src/core/sim/milenage-vectors.js';
import { requireTools } from '../helpers/require.js';
import { assertFreshBuild } from '../helpers/build.js';

const fixture = (name: string) => new URL(`../fixtures/sim/${name}`, import.meta.url).pathname;
const OP = '63bfa50ee6523365ff14c1f45f88737d';
const SET1 = MILENAGE_TEST_SETS[0];
const VENDOR = readFileSync(fixture('vendor-5.out'), 'utf8');
const CARDS = [...VENDOR.matchAll(/^(\d{19}) (\d{15}) \S+ \S+ \S+ \S+ ([0-9A-F]{32}) ([0-9A-F]{32}) \S+$/gm)].map((m) => ({ iccid: m[1], imsi: m[2], ki: m[3].toLowerCase(), opc: m[4].toLowerCase() }));

const dir = mkdtempSync(join(tmpdir(), 'sipctl-simcli-'));
function secretFile(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

/** Every key used below; none may appear in an output unless the run asked for it. */
const SECRETS = new Set<string>([OP, SET1.k, SET1.op, SET1.opc, ...CARDS.flatMap((c) => [c.ki, c.opc])]);
const TRANSPORT_KEY = randomBytes(16).toString('hex');
SECRETS.add(TRANSPORT_KEY);

const KI_A = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const KI_B = 'b1b2c3d4e5f60718293a4b5c6d7e8f90';
const KI_C = 'c1b2c3d4e5f60718293a4b5c6d7e8f90';
const KI_D = 'd1b2c3d4e5f60718293a4b5c6d7e8f90';
for (const k of [KI_A, KI_B, KI_C, KI_D]) SECRETS.add(k);
SECRETS.add(deriveOpcHex(KI_A, OP));

function assertNoSecrets(r: RunResult, args: string[], allowed: string[] = []) {
  const out = (r.stdout + r.stderr).toLowerCase();
  for (const s of SECRETS) {
    if (allowed.includes(s)) continue;
    assert.ok(!out.includes(s), `sipctl ${args.join(' ')} printed a key (${s.slice(0, 4)}…)`);
  }
}

/** A usage failure: exit 2, nothing on stdout, exactly one line on stderr matching `re`. */
function assertOneLineError(r: RunResult, code: number, re: RegExp) {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0], re);
}

test('sim selftest: every bundled 3GPP set passes through the built binary', async () => {
  const r = await runSipctl(['sim', 'selftest']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^21 of 21 test sets passed$/m);
  assert.match(r.stdout, /^ts35208-set20\tpass$/m);
  const j = await runSipctl(['sim', 'selftest', '--json']);
  const doc = JSON.parse(j.stdout);
  assert.equal(doc.ok, true);
  assert.equal(doc.passed, 21);
});

test('sim opc: prints the OPc only; key files and stdin; bad keys exit 2 with one line and no key echoed', async () => {
  const args = ['sim', 'opc', '--ki', SET1.k.toUpperCase(), '--op', SET1.op];
  const r = await runSipctl(args);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, SET1.opc + '\n');
  // Keys given as flag values work, with a warning per flag (issue 16): ps shows them to every user.
  assert.equal(r.stderr, ['--ki', '--op'].map((f) => `warning: ${f}: the value is visible to other users in the process list (ps); prefer ${f}-file (a 0600 file, or - for standard input) or the prompt\n`).join(''));
  const kiFile = secretFile('set1.ki', SET1.k + '\n');
  const f = await runSipctl(['sim', 'opc', '--ki-file', kiFile, '--op-file', '-'], { input: SET1.op + '\n' });
  assert.equal(f.stdout, SET1.opc + '\n', f.stderr);
  assert.equal(f.stderr, '', 'files and standard input: no warning');
  const j = JSON.parse((await runSipctl([...args, '--json'])).stdout);
  assert.equal(j.opc, SET1.opc);
  assert.equal(j.warnings.length, 2, 'the warnings travel in the JSON document');
  for (const [bad, re] of [
    [['--ki', SET1.k.slice(1), '--op', SET1.op], /^sipctl: ki: expected 32 hex digits \(16 bytes\), got 31 characters$/],
    [['--ki', SET1.k, '--op', SET1.op.slice(0, 31) + 'x'], /^sipctl: op: expected hex digits only .* position 32$/],
    [['--ki', '0'.repeat(32), '--op', SET1.op], /^sipctl: ki: is all zeros/],
    [['--op', SET1.op], /^sipctl: ki: missing: give --ki-file PATH \(- for standard input\) or --ki/],
    [['--ki', SET1.k, '--ki-file', kiFile, '--op', SET1.op], /^sipctl: give ki one way only: --ki or --ki-file$/],
  ] as const) {
    const res = await runSipctl(['sim', 'opc', ...bad]);
    assertOneLineError(res, 2, re);
    assertNoSecrets(res, bad as unknown as string[]);
  }
});


test('sim opc on a terminal: a missing key is asked for at a hidden prompt (util-linux script gives the pty)', async () => {
  requireTools('script');
  assertFreshBuild();
  const out = await new Promise<string>((resolve, reject) => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(SIPCTL)} sim opc --op ${SET1.op}`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: isolatedEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    let typed = false;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no answer; got: ${buf}`)); }, 20000);
    child.stdout.on('data', (d) => {
      buf += d;
      if (!typed && buf.includes('hidden):')) {
        typed = true;
        child.stdin.write(SET1.k + '\r');
      }
    });
    child.on('close', () => { clearTimeout(timer); resolve(buf); });
  });
  assert.match(out, /Ki \(32 hex digits, hidden\):/);
  assert.ok(out.includes(SET1.opc), 'OPc printed');
  assert.ok(!out.includes(SET1.k), 'the typed Ki is not echoed');
  assert.ok(out.includes('*'.repeat(32)), 'masked echo');
});

forEachEngine('sipctl sim (built CLI)', (engine, track) => {
  let t: TestDb;
  let db: Database;
  let env: NodeJS.ProcessEnv;
  const count = async () => Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM sim'))[0].n);
  const stored = (imsi: string) => db.query<Record<string, string | null>>('SELECT * FROM sim WHERE imsi = ?', [imsi]).then((r) => r[0]);
  /** Run, and check that no key leaked unless the run may print it. */
  const sim = async (args: string[], opts: { input?: string; allowed?: string[] } = {}) => {
    const r = await runSipctl(['sim', ...args], { env, input: opts.input });
    if (!args.includes('--reveal')) assertNoSecrets(r, args, opts.allowed);
    return r;
  };

  before(async () => {
    t = track(await createTestDb(engine));
    db = await t.open();
    env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
  });
  after(async () => db?.close());

  test('add --op: OPc derived, OP not stored; --opc-file and --ki-file; --random-op with the Ki on stdin', async () => {
    const a = await sim(['add', '001010000000001', '--ki', KI_A, '--op', OP, '--iccid', CARDS[0].iccid, '--batch', 'CLI1', '--msisdn', '+447700900001']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, 'added SIM 001010000000001 (OPc derived from OP; OP not stored)\n');
    assert.equal((await stored('001010000000001')).opc, deriveOpcHex(KI_A, OP));
    const kiFile = secretFile('b.ki', KI_B.toUpperCase() + '\n');
    const opcFile = secretFile('b.opc', CARDS[1].opc + '\n');
    const b = await sim(['add', '001010000000002', '--ki-file', kiFile, '--opc-file', opcFile, '--amf', 'B9B9', '--sqn', '000000000040', '--batch', 'CLI1']);
    assert.equal(b.code, 0, b.stderr);
    const rowB = await stored('001010000000002');
    assert.deepEqual([rowB.ki, rowB.opc, rowB.amf, rowB.sqn], [KI_B, CARDS[1].opc, 'b9b9', '000000000040']);
    const c = await sim(['add', '001010000000003', '--ki-file', '-', '--random-op', '--batch', 'CLI2', '--json'], { input: KI_C + '\n' });
    assert.equal(c.code, 0, c.stderr);
    const doc = JSON.parse(c.stdout);
    assert.equal(doc.opcSource, 'random-op');
    assert.equal(doc.sim.ki, '****');
    assert.equal(doc.sim.opc, '****');
    const rowC = await stored('001010000000003');
    assert.match(String(rowC.opc), /^[0-9a-f]{32}$/);
    SECRETS.add(String(rowC.opc));
    for (const r of await db.query<Record<string, unknown>>('SELECT * FROM sim')) for (const v of Object.values(r)) assert.notEqual(String(v), OP);
    assert.equal(await count(), 3);
  });

  test('malformed or clashing add: exit 2 (or 4 for a clash), one line naming the field, nothing written', async () => {
    const before = await count();
    const zero = '0'.repeat(32);
    const badLuhn = CARDS[4].iccid.slice(0, -1) + ((Number(CARDS[4].iccid.at(-1)) + 1) % 10);
    const cases: Array<[string[], number, RegExp]> = [
      [['add', '001010000000009', '--ki', KI_D.slice(2), '--opc', CARDS[3].opc], 2, /^sipctl: ki: expected 32 hex digits \(16 bytes\), got 30 characters$/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', CARDS[3].opc + '0'], 2, /^sipctl: opc: expected 32 hex digits \(16 bytes\), got 33 characters$/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', 'g' + CARDS[3].opc.slice(1)], 2, /^sipctl: opc: expected hex digits only/],
      [['add', '001010000000009', '--ki', zero, '--opc', CARDS[3].opc], 2, /^sipctl: ki: is all zeros/],
      [['add', '001010000000009', '--ki', KI_D, '--op', zero], 2, /^sipctl: op: is all zeros/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', KI_D.toUpperCase()], 2, /^sipctl: opc: equals ki/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', CARDS[3].opc, '--iccid', badLuhn], 2, /^sipctl: iccid: check digit \d fails the Luhn check \(expected \d\)/],
      [['add', '00101', '--ki', KI_D, '--opc', CARDS[3].opc], 2, /^sipctl: imsi: expected 6 to 15 digits, got 5$/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', CARDS[3].opc, '--amf', '80000'], 2, /^sipctl: amf: expected 4 hex digits/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', CARDS[3].opc, '--sqn', '12'], 2, /^sipctl: sqn: expected 12 hex digits/],
      [['add', '001010000000009', '--ki', KI_D], 2, /^sipctl: opc: missing: give --opc-file PATH \(- for standard input\) or --opc, or --op, --op-file or --random-op/],
      [['add', '001010000000009', '--ki', KI_D, '--random-op', '--op', OP], 2, /^sipctl: give exactly one of --opc, --op and --random-op$/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', CARDS[3].opc, '--opc-file', '/dev/null'], 2, /^sipctl: give opc one way only: --opc or --opc-file$/],
      [['add', '001010000000009', '--ki', KI_A, '--opc', CARDS[3].opc], 4, /^sipctl: ki: already used by another card \(IMSI 001010000000001\)/],
      [['add', '001010000000001', '--ki', KI_D, '--opc', CARDS[3].opc], 4, /^sipctl: imsi: a SIM with IMSI 001010000000001 already exists/],
      [['add', '001010000000009', '--ki', KI_D, '--opc', CARDS[3].opc, '--iccid', CARDS[0].iccid], 4, /^sipctl: iccid: already used by another card/],
    ];
    for (const [args, code, re] of cases) assertOneLineError(await sim(args), code, re);
    assert.equal(await count(), before, 'nothing written');
  });

  test('show and list: Ki/OPc masked in text and --json unless --reveal', async () => {
    const s = await sim(['show', '001010000000002']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^ki\t\*\*\*\*$/m);
    assert.match(s.stdout, /^opc\t\*\*\*\*$/m);
    assert.match(s.stdout, /^amf\tb9b9$/m);
    const sj = JSON.parse((await sim(['show', '001010000000002', '--json'])).stdout);
    assert.deepEqual([sj.ki, sj.opc, sj.revealed], ['****', '****', false]);
    const r = await sim(['show', '001010000000002', '--reveal']);
    assert.match(r.stdout, new RegExp(`^ki\\t${KI_B}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^opc\\t${CARDS[1].opc}$`, 'm'));
    const rj = JSON.parse((await sim(['show', '001010000000002', '--reveal', '--json'])).stdout);
    assert.deepEqual([rj.ki, rj.opc, rj.revealed], [KI_B, CARDS[1].opc, true]);
    assertOneLineError(await sim(['show', '001010000000404']), 3, /^sipctl: no SIM with IMSI 001010000000404/);
    assertOneLineError(await sim(['show', '12ab']), 2, /^sipctl: imsi: expected digits only/);

    const l = await sim(['list', '--batch', 'CLI1']);
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(l.stdout.trim().split('\n').map((x) => x.split('\t')[0]), ['001010000000001', '001010000000002']);
    const lj = JSON.parse((await sim(['list', '--imsi-prefix', '0010100000000', '--json'])).stdout);
    assert.equal(lj.total, 3);
    assert.ok(lj.sims.every((x: { ki: string; opc: string }) => x.ki === '****' && x.opc === '****'));
    const lr = JSON.parse((await sim(['list', '--batch', 'CLI2', '--reveal', '--json'])).stdout);
    assert.equal(lr.sims[0].ki, KI_C);
    assert.equal((await sim(['list', '--batch', 'nothing'])).stdout, '');
    // a page that leaves SIMs out says so on stderr, and in --json (issue 11)
    const page = await sim(['list', '--imsi-prefix', '0010100000000', '--limit', '2']);
    assert.equal(page.stdout.trim().split('\n').length, 2);
    assert.match(page.stderr, /^2 of 3 SIM\(s\), page 1 of 2: --page 2 for the next, --limit 3 for all\n$/);
    const pj = JSON.parse((await sim(['list', '--imsi-prefix', '0010100000000', '--limit', '2', '--json'])).stdout);
    assert.deepEqual([pj.total, pj.truncated, pj.sims.length], [3, true, 2]);
    assert.equal(lj.truncated, false);
  });

  test('set-sqn, vector advancing the SQN, resync from an AUTS', async () => {
    await db.execute('INSERT INTO sim (imsi, ki, opc, amf, sqn, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', ['001019999999991', SET1.k, SET1.opc, SET1.amf, '000000000000', '2024-01-01 00:00:00', '2024-01-01 00:00:00']);
    const before = (BigInt('0x' + SET1.sqn) - 32n).toString(16).padStart(12, '0');
    const s = await sim(['set-sqn', '001019999999991', before.toUpperCase()]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, `SQN of 001019999999991 set to ${before} (was 000000000000)\n`);
    const v = await sim(['vector', '001019999999991', '--rand', SET1.rand, '--json']);
    assert.equal(v.code, 0, v.stderr);
    const vec = JSON.parse(v.stdout);
    assert.equal(vec.sqn, SET1.sqn);
    assert.equal(vec.xres, SET1.f2);
    assert.equal(vec.ck, SET1.f3);
    assert.equal(vec.ik, SET1.f4);
    const sqnXorAk = (BigInt('0x' + SET1.sqn) ^ BigInt('0x' + SET1.f5)).toString(16).padStart(12, '0');
    assert.equal(vec.autn, sqnXorAk + SET1.amf + SET1.f1);
    const v2 = await sim(['vector', '001019999999991']);
    assert.equal(v2.code, 0, v2.stderr);
    const sqn2 = /^sqn\t([0-9a-f]{12})$/m.exec(v2.stdout)![1];
    assert.equal(BigInt('0x' + sqn2) - BigInt('0x' + SET1.sqn), 32n);
    assert.match(v2.stdout, /^autn\t[0-9a-f]{32}$/m);
    assert.equal((await stored('001019999999991')).sqn, sqn2);

    const sqnMs = '0000abcd0000';
    const auts = buildAuts({ ki: Buffer.from(SET1.k, 'hex'), opc: Buffer.from(SET1.opc, 'hex'), rand: Buffer.from(SET1.rand, 'hex'), sqn: Buffer.from(sqnMs, 'hex') }).toString('hex');
    const rs = await sim(['resync', '001019999999991', '--rand', SET1.rand, '--auts', auts]);
    assert.equal(rs.code, 0, rs.stderr);
    assert.match(rs.stdout, /resynchronised to 0000abcd0000 .* next vector uses 0000abcd0020/);
    assert.equal((await stored('001019999999991')).sqn, sqnMs);
    const bad = auts.slice(0, -2) + (auts.endsWith('00') ? '01' : '00');
    assertOneLineError(await sim(['resync', '001019999999991', '--rand', SET1.rand, '--auts', bad]), 2, /^sipctl: AUTS: MAC-S does not verify/);
    assert.equal((await stored('001019999999991')).sqn, sqnMs, 'unchanged after a bad AUTS');
    assertOneLineError(await sim(['set-sqn', '001019999999991', 'xyz']), 2, /^sipctl: sqn: expected 12 hex digits/);
    assertOneLineError(await sim(['vector', '001019999999991', '--rand', 'abc']), 2, /^sipctl: rand: expected 32 hex digits/);
    assertOneLineError(await sim(['vector', '001010000000404']), 3, /^sipctl: no SIM with IMSI/);
  });

  test('vector: 8 sipctl processes at once get 8 distinct SQNs', async () => {
    await sim(['set-sqn', '001019999999991', '000000000000']);
    const runs = await Promise.all(Array.from({ length: 8 }, () => sim(['vector', '001019999999991', '--json'])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const sqns = runs.map((r) => JSON.parse(r.stdout).sqn as string);
    assert.equal(new Set(sqns).size, 8);
    assert.deepEqual([...sqns].sort(), Array.from({ length: 8 }, (_, i) => (BigInt(i + 1) * 32n).toString(16).padStart(12, '0')));
    assert.equal((await stored('001019999999991')).sqn, (8n * 32n).toString(16).padStart(12, '0'));
  });

  test('rm: needs --yes without a terminal; removes; then not found', async () => {
    const r = await sim(['rm', '001010000000003']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /needs confirmation .*pass --yes/);
    assert.ok(await stored('001010000000003'));
    const ok = await sim(['rm', '001010000000003', '--yes']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'removed SIM 001010000000003\n');
    assertOneLineError(await sim(['rm', '001010000000003', '--yes']), 3, /no SIM with IMSI 001010000000003/);
  });

  test('import: CSV, then a vendor file with a transport key; re-import skips', async () => {
    await db.execute('DELETE FROM sim');
    const csv = await sim(['import', fixture('sims-opc.csv')]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout, 'added 2, skipped 0 (already present), rejected 0\n');
    // Vendor file with Ki/OPc encrypted under a transport key (AES-128-ECB, the default).
    const key = Buffer.from(TRANSPORT_KEY, 'hex');
    const enc = (hex: string) => {
      const c = createCipheriv('aes-128-ecb', key, null);
      c.setAutoPadding(false);
      return c.update(Buffer.from(hex, 'hex')).toString('hex').toUpperCase();
    };
    let vendor = VENDOR;
    for (const c of CARDS) vendor = vendor.replace(c.ki.toUpperCase(), enc(c.ki)).replace(c.opc.toUpperCase(), enc(c.opc));
    const vfile = secretFile('enc.out', vendor);
    const tk = secretFile('tk.hex', TRANSPORT_KEY + '\n');
    const v = await sim(['import', vfile, '--transport-key-file', tk, '--json']);
    assert.equal(v.code, 0, v.stderr);
    const doc = JSON.parse(v.stdout);
    assert.deepEqual([doc.format, doc.added, doc.skipped, doc.rejected], ['vendor', 3, 2, 0]);
    for (const c of CARDS) {
      const row = await stored(c.imsi);
      assert.deepEqual([row.ki, row.opc], [c.ki, c.opc], c.imsi);
    }
    const again = await sim(['import', vfile, '--transport-key-file', tk]);
    assert.equal(again.stdout, 'added 0, skipped 5 (already present), rejected 0\n');
    // From standard input with the operator OP from a file
    await db.execute('DELETE FROM sim');
    const opFile = secretFile('op.hex', OP);
    const stdin = await sim(['import', '-', '--op-file', opFile], { input: readFileSync(fixture('sims-op.csv'), 'utf8') });
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal((await stored('001010000000003')).opc, CARDS[2].opc);
    assertOneLineError(await sim(['import', '-', '--op-file', '-'], { input: 'x' }), 2, /standard input is already used by the import file/);
  });

  test('import: rejected rows listed by line, exit 2; --atomic writes nothing; --dry-run writes nothing; truncated file writes nothing', async () => {
    await db.execute('DELETE FROM sim');
    const rows = [
      'imsi,iccid,ki,opc',
      `001010000000011,,${KI_A},${CARDS[0].opc}`,
      `001010000000012,,${KI_B.slice(1)},${CARDS[0].opc}`,
      `001010000000013,,${KI_C},${KI_C}`,
      `001010000000014,${CARDS[0].iccid.slice(0, -1)}0,${KI_D},${CARDS[0].opc}`,
      `001010000000015,,${KI_A},${CARDS[0].opc}`,
    ].join('\n');
    const f = secretFile('bad.csv', rows);
    const atomic = await sim(['import', f, '--atomic']);
    assert.equal(atomic.code, 2);
    assert.match(atomic.stderr, /^line 3: ki: expected 32 hex digits \(16 bytes\), got 31 characters$/m);
    assert.match(atomic.stderr, /^line 4: opc: equals ki/m);
    assert.match(atomic.stderr, /^line 5: iccid: check digit 0 fails the Luhn check/m);
    assert.match(atomic.stderr, /^line 6: ki: same Ki as line 2$/m);
    assert.match(atomic.stderr, /^sipctl: 4 row\(s\) rejected; nothing was imported$/m);
    assert.match(atomic.stdout, /rolled back, nothing imported \(--atomic\)/);
    assert.equal(await count(), 0);
    const dry = await sim(['import', f, '--dry-run']);
    assert.equal(dry.code, 2);
    assert.match(dry.stdout, /^would add 1, skipped 0 \(already present\), rejected 4$/m);
    assert.equal(await count(), 0);
    const partial = await sim(['import', f, '--json']);
    assert.equal(partial.code, 2);
    const doc = JSON.parse(partial.stdout);
    assert.deepEqual([doc.added, doc.rejected], [1, 4]);
    assert.deepEqual(doc.rejections.map((r: { line: number }) => r.line), [3, 4, 5, 6]);
    assert.equal(JSON.parse(partial.stderr.trim()).error.code, 'SIM_IMPORT_REJECTED_ROWS');
    assert.equal(await count(), 1);
    await db.execute('DELETE FROM sim');
    assertOneLineError(await sim(['import', fixture('vendor-truncated.out')]), 2, /^sipctl: line 3: Quantity header says 5 cards but 4 rows were read; nothing was imported$/);
    assertOneLineError(await sim(['import', secretFile('junk.txt', 'hello\nworld\n')]), 2, /^sipctl: line 1: unrecognised file format/);
    assertOneLineError(await sim(['import', join(dir, 'missing.csv')]), 2, /^sipctl: cannot read .*missing\.csv \(ENOENT\)$/);
    assertOneLineError(await sim(['import', fixture('vendor-5.out'), '--transport-key-file', secretFile('short.tk', 'abcd')]), 2, /^sipctl: transport_key: expected 32 hex digits/);
    assertOneLineError(await sim(['import', fixture('vendor-5.out'), '--op', '00'.repeat(16)]), 2, /^sipctl: op: is all zeros/);
    assert.equal(await count(), 0);
  });

  test('export: CSV and JSON without Ki/OPc unless --reveal; --output is mode 0600', async () => {
    await db.execute('DELETE FROM sim');
    assert.equal((await sim(['import', fixture('vendor-5.out')])).code, 0);
    const csv = await sim(['export']);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trim().split('\n');
    assert.equal(lines[0], 'imsi,iccid,msisdn,amf,sqn,batch,vendor');
    assert.equal(lines.length, 6);
    const full = await sim(['export', '--reveal']);
    assert.equal(full.stdout.split('\n')[0], 'imsi,iccid,msisdn,ki,opc,amf,sqn,batch,vendor');
    assert.ok(full.stdout.includes(`${CARDS[0].imsi},${CARDS[0].iccid},,${CARDS[0].ki},${CARDS[0].opc},8000,000000000000,EXN2401,`));
    const json = JSON.parse((await sim(['export', '--format', 'json'])).stdout);
    assert.equal(json.length, 5);
    assert.ok(json.every((o: object) => !('ki' in o) && !('opc' in o)));
    const j2 = JSON.parse((await sim(['export', '--json'])).stdout);
    assert.equal(j2.count, 5);
    assert.ok(j2.sims.every((o: { ki: string }) => o.ki === '****'));
    const out = join(dir, `export-${engine}.csv`);
    const w = await sim(['export', '--reveal', '--output', out]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout, '');
    assert.match(w.stderr, /exported 5 SIM\(s\)/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.ok(readFileSync(out, 'utf8').includes(CARDS[4].opc));
    // what export --reveal writes, import reads back
    await db.execute('DELETE FROM sim');
    const back = await sim(['import', out]);
    assert.equal(back.stdout, 'added 5, skipped 0 (already present), rejected 0\n', back.stderr);
    assert.equal((await stored(CARDS[4].imsi)).opc, CARDS[4].opc);
  });
});
