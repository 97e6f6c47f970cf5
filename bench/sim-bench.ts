/**
 * SIM benchmarks, each beside a reference measured in the same run:
 *   (a) OPc derivation: 1,000,000 keys through sipctl's createOpcDeriver (what `sim import --op`
 *       uses) vs a bare node:crypto AES-128-ECB loop over the same keys (createCipheriv + update);
 *   (b) `sim import` of 100,000 generated cards from a vendor-format file into SQLite and into
 *       MariaDB vs plain multi-row INSERTs (1,000 rows per statement) of the same rows, already
 *       parsed and in memory, into a fresh database of the same engine: the default import against
 *       autocommitted INSERTs, and `--atomic` (one transaction) against the INSERTs in one transaction.
 * Targets: derivation within 1.5x, import within 2x. Each figure is the best of ROUNDS runs.
 *
 *   node --import tsx bench/sim-bench.ts [--keys N] [--cards N] [--rounds N] [--engines sqlite,mysql] [--no-record]
 *
 * Prints a markdown table and appends it, with the date and machine, to bench/RESULTS.md under "## SIM".
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTestDb, type EngineName } from '../test/helpers/db.js';
import { createOpcDeriver } from '../src/core/sim/milenage.js';
import { importSims } from '../src/core/sim/sim-import.js';
import { luhnCheckDigit } from '../src/core/sim/validation.js';
import type { Queryable, SqlValue } from '../src/core/db/database.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const KEYS = Number(arg('keys', '1000000'));
const CARDS = Number(arg('cards', '100000'));
const ROUNDS = Number(arg('rounds', '3'));
const ENGINES = arg('engines', 'sqlite,mysql').split(',') as EngineName[];
const RECORD = !process.argv.includes('--no-record');

interface Row {
  what: string;
  ours: number;
  reference: number;
  unit: string;
  target: number;
  refName: string;
}
const rows: Row[] = [];

function best(times: number[]): number {
  return Math.min(...times);
}

// ---------------------------------------------------------------- (a) OPc derivation

function benchDerivation(): void {
  const keys = randomBytes(16 * KEYS);
  const op = randomBytes(16);
  const ki = (i: number) => keys.subarray(16 * i, 16 * i + 16);
  // same answers first
  const d = createOpcDeriver(op);
  for (let i = 0; i < 1000; i++) {
    const c = createCipheriv('aes-128-ecb', ki(i), null);
    c.setAutoPadding(false);
    const e = c.update(op);
    for (let j = 0; j < 16; j++) e[j] ^= op[j];
    if (!e.equals(d.derive(ki(i)))) throw new Error('derivation mismatch');
  }
  const ours: number[] = [];
  const ref: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    for (let i = 0; i < KEYS; i++) {
      const c = createCipheriv('aes-128-ecb', ki(i), null);
      c.setAutoPadding(false);
      sink ^= c.update(op)[0];
    }
    ref.push(performance.now() - t);
    t = performance.now();
    for (let i = 0; i < KEYS; i++) sink ^= d.derive(ki(i))[0];
    ours.push(performance.now() - t);
  }
  d.dispose();
  if (sink === 0.5) console.log('');
  rows.push({
    what: `OPc derivations, ${KEYS.toLocaleString('en')} keys`,
    ours: KEYS / (best(ours) / 1000),
    reference: KEYS / (best(ref) / 1000),
    unit: 'keys/s',
    target: 1.5,
    refName: 'bare node:crypto AES-128-ECB loop (createCipheriv + update)',
  });
}

// ---------------------------------------------------------------- (b) import

interface Card {
  iccid: string;
  imsi: string;
  ki: string;
  opc: string;
}

function generateCards(n: number): Card[] {
  const bytes = randomBytes(32 * n);
  const out: Card[] = [];
  for (let i = 0; i < n; i++) {
    const body = '894401990' + String(i).padStart(9, '0');
    out.push({
      iccid: body + luhnCheckDigit(body),
      imsi: '00199' + String(i).padStart(10, '0'),
      ki: bytes.subarray(32 * i, 32 * i + 16).toString('hex'),
      opc: bytes.subarray(32 * i + 16, 32 * i + 32).toString('hex'),
    });
  }
  return out;
}

function vendorFile(cards: Card[]): string {
  const head = `*HEADER DATA*\nCustomer : Bench Networks\nQuantity : ${cards.length}\nType : USIM\nBatch : BENCH01\n*OUTPUT VARIABLES*\nvar_Out: ICCID/IMSI/PIN1/PUK1/Ki/OPC\n`;
  const lines = cards.map((c) => `${c.iccid} ${c.imsi} 0000 12345678 ${c.ki.toUpperCase()} ${c.opc.toUpperCase()}`);
  return head + lines.join('\n') + '\n';
}

async function plainInsert(engine: EngineName, cards: Card[], oneTransaction: boolean): Promise<number> {
  const t = await createTestDb(engine);
  const db = await t.open();
  try {
    const now = new Date().toISOString().slice(0, 19).replace('T', ' ');
    const tuple = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const load = async (q: Queryable) => {
      for (let i = 0; i < cards.length; i += 1000) {
        const chunk = cards.slice(i, i + 1000);
        const params: SqlValue[] = [];
        for (const c of chunk) params.push(c.imsi, c.iccid, null, c.ki, c.opc, '8000', '000000000000', 'BENCH01', null, now, now);
        await q.execute(`INSERT INTO sim (imsi, iccid, msisdn, ki, opc, amf, sqn, batch, vendor, created_at, updated_at) VALUES ${new Array(chunk.length).fill(tuple).join(', ')}`, params);
      }
    };
    const start = performance.now();
    if (oneTransaction) await db.transaction(load);
    else await load(db);
    const ms = performance.now() - start;
    const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM sim');
    if (Number(n) !== cards.length) throw new Error(`reference loaded ${n} rows`);
    return ms;
  } finally {
    await db.close();
    await t.drop();
  }
}

async function ourImport(engine: EngineName, path: string, n: number, atomic: boolean): Promise<number> {
  const t = await createTestDb(engine);
  const db = await t.open();
  try {
    const start = performance.now();
    const s = await importSims(db, () => createReadStream(path, { highWaterMark: 1 << 20 }), { atomic });
    const ms = performance.now() - start;
    if (s.added !== n || s.rejected !== 0) throw new Error(`import added ${s.added}, rejected ${s.rejected}: ${JSON.stringify(s.rejections.slice(0, 3))}`);
    return ms;
  } finally {
    await db.close();
    await t.drop();
  }
}

async function benchImport(): Promise<void> {
  const cards = generateCards(CARDS);
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-bench-'));
  const path = join(dir, 'bench.out');
  writeFileSync(path, vendorFile(cards), { mode: 0o600 });
  try {
    for (const engine of ENGINES) {
      // Default import (a transaction per 10,000 rows) vs plain INSERTs, each autocommitted; then
      // --atomic (one transaction) vs the same plain INSERTs inside one transaction.
      for (const oneTx of [false, true]) {
        const ours: number[] = [];
        const ref: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          ref.push(await plainInsert(engine, cards, oneTx));
          ours.push(await ourImport(engine, path, CARDS, oneTx));
        }
        rows.push({
          what: `sim import${oneTx ? ' --atomic' : ''}, ${CARDS.toLocaleString('en')} cards (vendor file) into ${engine === 'mysql' ? 'MariaDB' : 'SQLite'}`,
          ours: CARDS / (best(ours) / 1000),
          reference: CARDS / (best(ref) / 1000),
          unit: 'cards/s',
          target: 2,
          refName: `plain multi-row INSERTs (1,000 rows each) of the same rows, pre-parsed in memory, ${oneTx ? 'in one transaction' : 'autocommitted'}`,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- report

function machine(): string {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch {
    /* not Linux */
  }
  return `${cpus().length} × ${model}, Node ${process.version}`;
}

function table(): string {
  const fmt = (x: number) => Math.round(x).toLocaleString('en');
  const lines = [
    '| benchmark | sipctl | reference | ratio (sipctl time ÷ reference time) | target | reference is |',
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const ratio = r.reference / r.ours; // ours takes `ratio` times as long as the reference
    lines.push(`| ${r.what} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.reference)} ${r.unit} | ${ratio.toFixed(2)}x ${ratio <= r.target ? '(ok)' : '(OVER)'} | ≤ ${r.target}x | ${r.refName} |`);
  }
  return lines.join('\n');
}

function record(md: string): void {
  const file = new URL('./RESULTS.md', import.meta.url);
  const block = `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${machine()}\n\n\`node --import tsx bench/sim-bench.ts --keys ${KEYS} --cards ${CARDS} --rounds ${ROUNDS} --engines ${ENGINES.join(',')}\` (best of ${ROUNDS})\n\n${md}\n`;
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (!/^## SIM\s*$/m.test(existing)) {
    const head = existing === '' ? '# Benchmark results\n\n' : existing.endsWith('\n\n') ? existing : existing.replace(/\n*$/, '\n\n');
    writeFileSync(file, `${head}## SIM\n\n${block}`);
    return;
  }
  // Add to the end of our section only, before any later "## " heading.
  const start = existing.search(/^## SIM\s*$/m);
  const nextRel = existing.slice(start + 6).search(/^## /m);
  const end = nextRel === -1 ? existing.length : start + 6 + nextRel;
  const before = existing.slice(0, end).replace(/\n*$/, '\n\n');
  writeFileSync(file, before + block + (nextRel === -1 ? '' : '\n' + existing.slice(end)));
}

async function main(): Promise<void> {
  console.error(`machine: ${machine()}`);
  console.error(`(a) ${KEYS} OPc derivations × ${ROUNDS} rounds…`);
  benchDerivation();
  console.error(`(b) import of ${CARDS} cards into ${ENGINES.join(', ')} × ${ROUNDS} rounds…`);
  await benchImport();
  const md = table();
  console.log(md);
  if (RECORD) record(md);
}

await main();
