/**
 * Proves the Kamailio test harness end to end, without any sipctl code:
 * for MariaDB and SQLite, build the schema from Kamailio's own create scripts,
 * insert a subscriber directly, start a real Kamailio from the lab config,
 * then talk to it over JSON-RPC/HTTP, SIP (sipsak, sipp) and binrpc (kamcmd).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import {
  LAB_CFG,
  LAB_SCHEMA_MODULES,
  createMysqlTestDatabase,
  kamailioMissing,
  kamailioSchemaSql,
  liveKamailioCount,
  processGroupAlive,
  startKamailio,
  stopAllKamailio,
  subscriberHashes,
  type KamailioInstance,
  type MysqlTestDatabase,
} from '../helpers/kamailio.js';
import { sipsakRegister, sippRegister } from '../helpers/sip-tools.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';

const DOMAIN = '127.0.0.1';
// sipsak user: one good and one bad REGISTER (userban triggers at 3 failures)
const ALICE = { user: 'alice', password: 'Wonder-land-42' };
// sipp user: separate row so its failed attempt does not count against alice
const BOB = { user: 'bob', password: 'builder-77' };

// a missing Kamailio, sipsak or sipp fails every suite below (scripts/test.sh installs them)
const prerequisites = () => requireComponent(kamailioMissing() ?? toolsMissing('sipsak', 'sipp'));

// belt and braces: every instance this file started is stopped even if a hook below fails
after(stopAllKamailio);

const INSERT_SUBSCRIBER = 'INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)';

function subscriberParams(u: { user: string; password: string }): string[] {
  const { ha1, ha1b } = subscriberHashes(u.user, DOMAIN, u.password);
  return [u.user, DOMAIN, u.password, ha1, ha1b];
}

interface Engine {
  name: 'mysql' | 'sqlite';
  /** create db + schema + subscribers; returns dbUrl */
  setup(): Promise<string>;
  /** rows of the location table (username, contact) */
  locations(): Promise<{ username: string; contact: string }[]>;
  teardown(): Promise<void>;
}

function mysqlEngine(): Engine {
  let db: MysqlTestDatabase | undefined;
  const connect = () =>
    mysql.createConnection({
      host: '127.0.0.1',
      port: 3306,
      user: db!.user,
      password: db!.password,
      database: db!.name,
      multipleStatements: true,
    });
  return {
    name: 'mysql',
    async setup() {
      db = await createMysqlTestDatabase('sipctl_harness');
      // connect as the dedicated (non-root) user, like kamdbctl's rw user would
      const c = await connect();
      try {
        await c.query(await kamailioSchemaSql('mysql', LAB_SCHEMA_MODULES));
        for (const u of [ALICE, BOB]) await c.execute(INSERT_SUBSCRIBER, subscriberParams(u));
      } finally {
        await c.end();
      }
      return db.url;
    },
    async locations() {
      const c = await connect();
      try {
        const [rows] = await c.query('SELECT username, contact FROM location ORDER BY id');
        return rows as { username: string; contact: string }[];
      } finally {
        await c.end();
      }
    },
    async teardown() {
      await db?.drop();
    },
  };
}

function sqliteEngine(): Engine {
  let dir: string | undefined;
  let file = '';
  return {
    name: 'sqlite',
    async setup() {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sipctl-harness-sqlite-'));
      file = path.join(dir, 'kamailio.db');
      const db = new Database(file);
      try {
        db.exec(await kamailioSchemaSql('sqlite', LAB_SCHEMA_MODULES));
        const ins = db.prepare(INSERT_SUBSCRIBER);
        for (const u of [ALICE, BOB]) ins.run(...subscriberParams(u));
      } finally {
        db.close();
      }
      // db_sqlite: "sqlite://" followed by the absolute path
      return `sqlite://${file}`;
    },
    async locations() {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT username, contact FROM location ORDER BY id').all() as {
          username: string;
          contact: string;
        }[];
      } finally {
        db.close();
      }
    },
    async teardown() {
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

for (const makeEngine of [mysqlEngine, sqliteEngine]) {
  const engine = makeEngine();
  describe(`Kamailio harness on ${engine.name}`, () => {
    before(prerequisites);
    let k: KamailioInstance;

    before(async () => {
      const dbUrl = await engine.setup();
      k = await startKamailio({ dbUrl, domain: DOMAIN });
    });

    after(async () => {
      await k?.stop();
      await engine.teardown();
    });

    it('answers core.uptime over JSON-RPC/HTTP on its own port', async (t) => {
      t.diagnostic(`started in ${k.startupMs} ms: sip ${k.sipPort}, http ${k.rpcUrl}, dir ${k.dir}`);
      assert.notEqual(k.sipPort, 5060);
      assert.notEqual(k.httpPort, 5071);
      const r = await k.rpc('core.uptime');
      assert.equal(r.httpStatus, 200);
      assert.equal(typeof r.result.uptime, 'number');
      assert.match(r.result.up_since, /\d{4}$/);
      // control sockets live in the instance dir, not /run/kamailio
      for (const p of [k.fifoPath, k.dgramPath, k.ctlPath]) {
        assert.ok(p.startsWith(k.dir + path.sep), p);
        assert.ok(fs.existsSync(p), `${p} exists`);
      }
    });

    it('accepts a REGISTER with the right password (sipsak)', async () => {
      const r = await sipsakRegister({
        ...ALICE,
        domain: DOMAIN,
        proxyHost: k.listenIp,
        proxyPort: k.sipPort,
        contactPort: 5091,
        expires: 600,
      });
      assert.equal(r.code, 0, `sipsak failed:\n${r.output}\n--- kamailio log ---\n${k.logTail(20)}`);
      assert.ok(r.ok);
      const dump = await k.rpc('ul.dump');
      assert.match(JSON.stringify(dump.result), /sip:alice@127\.0\.0\.1:5091/);
    });

    it('rejects a REGISTER with the wrong password (sipsak)', async () => {
      const r = await sipsakRegister({
        ...ALICE,
        password: 'not-the-password',
        domain: DOMAIN,
        proxyHost: k.listenIp,
        proxyPort: k.sipPort,
        contactPort: 5092,
      });
      assert.notEqual(r.code, 0, `sipsak unexpectedly succeeded:\n${r.output}`);
      assert.equal(r.timedOut, false);
      assert.match(r.output, /401|403/);
      assert.match(k.logTail(50), /auth failed .* for alice/);
    });

    it('registers and fails as expected with sipp (reg_auth.xml)', async () => {
      const good = await sippRegister({ users: [BOB], domain: DOMAIN, proxyHost: k.listenIp, proxyPort: k.sipPort });
      assert.equal(good.successful, 1, `sipp:\n${good.output}`);
      assert.equal(good.failed, 0);
      assert.equal(good.code, 0);
      const bad = await sippRegister({
        users: [{ user: BOB.user, password: 'wrong' }],
        domain: DOMAIN,
        proxyHost: k.listenIp,
        proxyPort: k.sipPort,
      });
      assert.equal(bad.successful, 0, `sipp:\n${bad.output}`);
      assert.equal(bad.failed, 1);
      assert.notEqual(bad.code, 0);
    });

    it('answers kamcmd on the instance binrpc socket', async () => {
      const r = await k.kamcmd('core.uptime');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /uptime: \d+/);
      assert.equal(k.ctlAddress, `unix:${k.ctlPath}`);
    });

    it('stop() kills the process group, removes the dir, and usrloc was flushed to the database', async () => {
      const { dir, pid } = k;
      await k.stop();
      assert.equal(fs.existsSync(dir), false);
      assert.equal(processGroupAlive(pid), false, 'no Kamailio process left in the group');
      await k.stop(); // idempotent
      // db_mode 2 (write-back) flushes the location table on shutdown
      const rows = await engine.locations();
      assert.ok(
        rows.some((r) => r.username === 'alice' && r.contact === 'sip:alice@127.0.0.1:5091'),
        JSON.stringify(rows),
      );
    });
  });
}

describe('two Kamailio instances at once', () => {
  before(prerequisites);
  const engine = mysqlEngine();
  let nodes: KamailioInstance[] = [];

  before(async () => {
    const dbUrl = await engine.setup();
    nodes = await Promise.all([startKamailio({ dbUrl }), startKamailio({ dbUrl })]);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await engine.teardown();
  });

  it('run side by side on distinct ports and sockets, sharing one database', async () => {
    const [a, b] = nodes;
    assert.notEqual(a.sipPort, b.sipPort);
    assert.notEqual(a.httpPort, b.httpPort);
    assert.notEqual(a.ctlPath, b.ctlPath);
    assert.equal(liveKamailioCount() >= 2, true);
    const [ra, rb] = await Promise.all([a.rpc('core.uptime'), b.rpc('core.uptime')]);
    assert.equal(typeof ra.result.uptime, 'number');
    assert.equal(typeof rb.result.uptime, 'number');
    // each node authenticates against the shared subscriber table
    for (const [i, n] of nodes.entries()) {
      const r = await sipsakRegister({
        ...ALICE,
        domain: DOMAIN,
        proxyHost: n.listenIp,
        proxyPort: n.sipPort,
        contactPort: 5100 + i,
      });
      assert.equal(r.code, 0, r.output);
      const ka = await n.kamcmd('ul.dump');
      assert.match(ka.stdout, new RegExp(`sip:alice@127\\.0\\.0\\.1:${5100 + i}`));
    }
  });
});

describe('config problems are reported', () => {
  before(prerequisites);
  it('surfaces kamailio -c output when the generated config is rejected', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sipctl-badcfg-'));
    try {
      const lab = await fsp.readFile(LAB_CFG, 'utf8');
      const bad = path.join(dir, 'kamailio.cfg');
      await fsp.writeFile(bad, lab.replace('request_route {', 'request_route {\n\tno_such_function_xyz();'));
      await assert.rejects(
        startKamailio({ dbUrl: `sqlite://${path.join(dir, 'x.db')}`, cfgPath: bad }),
        (e: Error) => /kamailio -c rejected/.test(e.message) && /no_such_function_xyz|unknown command/i.test(e.message),
      );
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
