/**
 * CPU of this process per location row that usrloc writes to MariaDB, by rows per batch
 * (LocationTable.writeBatch, as the group commit in src/daemon/modules/usrloc/location-writer.ts
 * calls it): what a REGISTER's write-through costs sipd's event loop, and how much batching
 * saves. CPU time (process.cpuUsage), so another load on the machine changes it less than a rate.
 *
 *   nice -n -10 node --import tsx bench/usrloc-writer-bench.ts [--rows 2000] [--sizes 1,2,4,8,16]
 *
 * Needs MariaDB with root over its unix socket (test/helpers/db.ts); the database is dropped at
 * the end. Prints one line per batch size; records nothing.
 */
import { createTestDb } from '../test/helpers/db.js';
import { LocationTable } from '../src/daemon/modules/usrloc/location-db.js';
import type { ContactRecord } from '../src/daemon/kernel/contracts.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const ROWS = Number(arg('rows', '2000'));
const SIZES = arg('sizes', '1,2,4,8,16').split(',').map(Number);
const USERS = 1000;

const t = await createTestDb('mysql');
const db = await t.open();
try {
  const table = new LocationTable('location', false);
  const now = Math.floor(Date.now() / 1000);
  // a binding as registrar.save() makes it for sipp's users (bench/sipd-bench.ts)
  const binding = (i: number, cseq: number): ContactRecord =>
    ({ aor: `user${i}`, ruid: `uloc-bench-${i}`, contact: `sip:user${i}@127.0.0.1:5060`, expires: now + 3600, q: -1, callId: `call-${i}@127.0.0.1`, cseq, lastModified: now, flags: 0, cflags: 0, userAgent: 'SIPp-lab', socket: 'udp:127.0.0.1:5060', methods: 0xffffffff, regId: 0 }) as unknown as ContactRecord;
  for (let i = 0; i < USERS; i += 100) await table.writeBatch(db, [{ insert: Array.from({ length: 100 }, (_, k) => binding(i + k, 1)) }]);
  let cseq = 2;
  const refresh = async (rows: number, size: number) => {
    for (let i = 0; i < rows; i += size) await table.writeBatch(db, Array.from({ length: size }, (_, k) => ({ update: [binding((i + k) % USERS, cseq++)] })));
  };
  for (const size of SIZES) {
    await refresh(200, size); // warm-up: JIT, the statement prepared on every connection
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await refresh(ROWS, size);
    const c = process.cpuUsage(c0);
    const wallUs = (performance.now() - t0) * 1000;
    console.log(`${String(size).padStart(3)} rows per batch: ${((c.user + c.system) / ROWS).toFixed(0)} µs CPU per row (user ${(c.user / ROWS).toFixed(0)}, system ${(c.system / ROWS).toFixed(0)}); wall ${(wallUs / ROWS).toFixed(0)} µs per row`);
  }
} finally {
  await db.close();
  await t.drop();
}
