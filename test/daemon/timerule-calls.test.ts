// Time rules and home countries on real calls: sipp callers registered through sipd, the carrier
// trunk a sipp UAS on 127.0.0.2. A call to a destination class outside its time window gets 403
// "Outside allowed hours" and nothing reaches the carrier; inside its window it goes through. A
// subscriber calling from outside its home countries (the override table maps 127.0.0.1 to a
// test country) may not call international numbers. The windows are fixed in the past or cover
// every day, so the outcome does not depend on when the test runs (no clock, no sleeping).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { ok, register, scenario, settle, sipp } from './calls-support.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, type SipdProcess } from './sipd-process.js';
import { requireTools } from '../helpers/require.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';

describe('time rules and home countries on calls through sipd', () => {
  before(() => requireTools('sipp'));
  let dir: string;
  let dbUrl: string;
  let sipd: SipdProcess;
  let alicePort: number;
  let carrierPort: number;
  const proxy = () => `127.0.0.1:${sipd.sipPort}`;

  async function call(service: string, expect: number | 'answered') {
    const uas = expect === 'answered' ? sipp({ scenario: scenario('callee.xml'), localIp: '127.0.0.2', localPort: carrierPort, timeoutMs: 20_000 }) : undefined;
    if (uas) await settle();
    const caller = expect === 'answered' ? scenario('caller.xml', { USER: 'alice' }) : scenario('caller-fail.xml', { USER: 'alice', STATUS: expect });
    const uac = sipp({ scenario: caller, remote: proxy(), localPort: alicePort, service, user: 'alice', password: PASSWORD, timeoutMs: 20_000 });
    const [a, b] = await Promise.all([uac.done, uas?.done]);
    return { uac: a, uas: b };
  }

  async function sql(stmt: string, params: Array<string | number> = []) {
    const db = await openDatabase(dbUrl);
    try {
      await db.execute(stmt, params);
    } finally {
      await db.close();
    }
  }

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-timerule-'));
    dbUrl = await makeDb(dir);
    const db = await openDatabase(dbUrl);
    try {
      await addSubscriber(db, 'alice', '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
      await db.execute("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (200, '127.0.0.2', 32, 0, 'test carrier')");
      // +49: a one-hour window in 2000, so always outside; +33: every day, all day
      await db.execute("INSERT INTO sipd_timerule (class, grp, timerec, tz, description) VALUES ('+49', '', '20000101T000000|PT1H', 'UTC', 'never')");
      await db.execute("INSERT INTO sipd_timerule (class, grp, timerec, tz, description) VALUES ('+33', '', '20000101T000000|PT24H|daily', 'Europe/Paris', 'always')");
    } finally {
      await db.close();
    }
    [alicePort, carrierPort] = [await freeSipPort(), await freeSipPort()];
    sipd = await startSipd({
      dbUrl,
      config: {
        modules: {
          scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
          pike: { trusted_groups: '200' },
          proxy: { carrier_host: '127.0.0.2', carrier_port: carrierPort },
          country: { source: 'none' },
        },
      },
    });
    ok(await register({ proxyPort: sipd.sipPort, user: 'alice', password: PASSWORD, localPort: alicePort }), 'REGISTER alice');
  });

  after(async () => {
    if (sipd !== undefined && sipd.child.exitCode === null) await sipd.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('outside the window: 403 Outside allowed hours, nothing relayed; inside: the carrier answers', async () => {
    const before = (await sipd.rpc<{ relayed: number }>('proxy.stats')).relayed;
    ok((await call('+4930123456', 403)).uac, 'caller to +49 (outside)');
    assert.equal((await sipd.rpc<{ relayed: number }>('proxy.stats')).relayed, before, 'nothing reached the carrier');
    assert.ok(sipd.output().includes('"event":"time-rule"'), 'the refusal is a security event');
    const r = await call('+33123456789', 'answered');
    ok(r.uac, 'caller to +33 (inside)');
    ok(r.uas!, 'carrier');
    const stats = await sipd.rpc<{ rules: number; refused: number }>('timerule.stats');
    assert.equal(stats.rules, 2);
    assert.equal(stats.refused, 1);
  });

  test('outside the home countries (restrict): international calls refused, the rest go on', async () => {
    await sql("INSERT INTO sipd_country_override (network, country, note) VALUES ('127.0.0.1', 'DE', 'test: alice abroad')");
    await sql("INSERT INTO sipd_country (scope, username, action, country) VALUES ('home', 'alice', 'allow', 'FR')");
    await sipd.rpc('country.reload');
    assert.deepEqual(await sipd.rpc('country.lookup', ['127.0.0.1']), { ip: '127.0.0.1', country: 'DE', source: 'override' });
    ok((await call('+33123456789', 403)).uac, 'international call from abroad');
    // a subscriber at home again: allowed
    await sql("DELETE FROM sipd_country_override WHERE network = '127.0.0.1'");
    await sql("INSERT INTO sipd_country_override (network, country, note) VALUES ('127.0.0.1', 'FR', 'test: alice at home')");
    await sipd.rpc('country.reload');
    const r = await call('+33123456789', 'answered');
    ok(r.uac, 'caller at home');
    ok(r.uas!, 'carrier');
  });
});
