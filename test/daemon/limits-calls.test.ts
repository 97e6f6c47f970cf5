// Spending limits on real calls (issue 13 rule 4): sipp callers registered through sipd, the
// carrier trunk a sipp UAS on 127.0.0.2. alice has a daily cost limit of 1.00; +49 costs 12.00 a
// minute billed per second (0.20 a second), so her budget pays for 5 s of call time. A call she
// holds open is ended by sipd at 5 s (BYE to both sides, CDR end_reason cost-limit); her next call
// gets 403 "Daily cost limit reached" and reaches nobody, also after sipd restarts (the totals come
// from the CDRs). Another subscriber with no limit still calls. No test clock is needed: the limit
// is reached in seconds of real call time, and nothing asserts how long anything took beyond that
// the call was not cut before its budget.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { addRate } from '../../src/core/rate/rates.js';
import { setLimits } from '../../src/core/limits/limits.js';
import { ok, register, scenario, settle, sipp } from './calls-support.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, type SipdProcess } from './sipd-process.js';
import { requireTools } from '../helpers/require.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';

interface Usage {
  limits: { costPerDay: number | null };
  used: { calls: number; costDay: number; activeCalls: number };
}

describe('spending limits on calls through sipd', () => {
  before(() => requireTools('sipp'));
  let dir: string;
  let stateDir: string;
  let dbUrl: string;
  let sipd: SipdProcess | undefined;
  let sipPort: number;
  const ports: Record<string, number> = {};
  let carrierPort: number;

  async function start() {
    sipd = await startSipd({
      dbUrl,
      stateDir,
      sipPort,
      config: {
        modules: {
          scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
          pike: { trusted_groups: '200' },
          proxy: { carrier_host: '127.0.0.2', carrier_port: carrierPort },
          country: { source: 'none' },
        },
      },
    });
    for (const user of ['alice', 'carol']) ok(await register({ proxyPort: sipd.sipPort, user, password: PASSWORD, localPort: ports[user] }), `REGISTER ${user}`);
  }

  async function call(user: string, service: string, kind: 'answered' | 'held' | 403) {
    const uas = kind === 403 ? undefined : sipp({ scenario: scenario('callee.xml'), localIp: '127.0.0.2', localPort: carrierPort, timeoutMs: 60_000 });
    if (uas) await settle();
    const caller = kind === 'answered' ? scenario('caller.xml', { USER: user }) : kind === 'held' ? scenario('caller-held.xml', { USER: user }) : scenario('caller-fail.xml', { USER: user, STATUS: 403 });
    const uac = sipp({ scenario: caller, remote: `127.0.0.1:${sipd!.sipPort}`, localPort: ports[user], service, user, password: PASSWORD, timeoutMs: 60_000 });
    const [a, b] = await Promise.all([uac.done, uas?.done]);
    return { uac: a, uas: b };
  }

  async function cdrs() {
    const db = await openDatabase(dbUrl);
    try {
      return await db.query<{ src_user: string; dst_ouser: string; sip_code: string; end_reason: string; duration: number }>('SELECT src_user, dst_ouser, sip_code, end_reason, duration FROM acc_cdrs ORDER BY id');
    } finally {
      await db.close();
    }
  }

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-limits-'));
    stateDir = join(dir, 'state');
    dbUrl = await makeDb(dir);
    const db = await openDatabase(dbUrl);
    try {
      for (const u of ['alice', 'carol']) await addSubscriber(db, u, '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
      await db.execute("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (200, '127.0.0.2', 32, 0, 'test carrier')");
      await addRate(db, { prefix: '+49', price: '12.00', increment: 1, description: 'test: 0.20 a second' });
      await addRate(db, { prefix: '+4930', price: '0.01', increment: 60, description: 'shorter prefix loses to nothing here' });
      await addRate(db, { prefix: '+4989', price: '12.00', increment: 1 });
      await setLimits(db, 'alice', { costPerDay: 1 });
    } finally {
      await db.close();
    }
    [sipPort, ports.alice, ports.carol, carrierPort] = [await freeSipPort(), await freeSipPort(), await freeSipPort(), await freeSipPort()];
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir);
    await start();
  });

  after(async () => {
    if (sipd !== undefined && sipd.child.exitCode === null) await sipd.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('the rate of a number: the longest prefix', async () => {
    assert.equal((await sipd!.rpc<{ prefix: string }>('limits.rate', ['+4930123456'])).prefix, '4930');
    assert.equal((await sipd!.rpc<{ prefix: string; increment: number }>('limits.rate', ['+4989123456'])).increment, 1);
    assert.equal(await sipd!.rpc('limits.rate', ['+33123456']), null);
  });

  test('a call whose running cost reaches the daily limit is ended at it: BYE to both sides', async () => {
    const r = await call('alice', '+4989123456', 'held');
    ok(r.uac, 'caller got a BYE');
    ok(r.uas!, 'carrier got a BYE');
    assert.ok(sipd!.lines().some((l) => l.msg === 'limits: spending limit reached; ending the call'), 'ended by the limit');
    const u = await sipd!.rpc<Usage>('limits.usage', ['alice']);
    assert.equal(u.limits.costPerDay, 1);
    assert.equal(u.used.activeCalls, 0);
    assert.equal(u.used.calls, 1);
    // 5 s at 0.20: the whole budget, and a few hundred ms over when the timer fires late is one more second at most
    assert.ok(u.used.costDay >= 1 && u.used.costDay <= 1.2 + 1e-9, String(u.used.costDay));
    const { alerts } = await sipd!.rpc<{ alerts: Array<{ type: string; key: string }> }>('alerts.recent', [20]);
    assert.ok(alerts.some((a) => a.type === 'cost-limit' && a.key === 'alice|call'), JSON.stringify(alerts));
  });

  test('at the limit a new call gets 403 "Daily cost limit reached" and reaches nobody', async () => {
    const before = (await sipd!.rpc<{ relayed: number }>('proxy.stats')).relayed;
    const r = await call('alice', '+4930123456', 403);
    ok(r.uac, 'caller refused');
    assert.match(r.uac.output + sipd!.output(), /Daily cost limit reached/);
    assert.equal((await sipd!.rpc<{ relayed: number }>('proxy.stats')).relayed, before, 'nothing reached the carrier');
    const { alerts } = await sipd!.rpc<{ alerts: Array<{ type: string; key: string }> }>('alerts.recent', [20]);
    assert.ok(alerts.some((a) => a.type === 'cost-limit' && a.key === 'alice|cost/day'), JSON.stringify(alerts));
    // a subscriber without limits still calls
    const c = await call('carol', '+4930123456', 'answered');
    ok(c.uac, 'carol');
    ok(c.uas!, 'carrier for carol');
  });

  test('after a restart the totals come back from the CDRs: still refused', async () => {
    await sipd!.stop();
    await start();
    const u = await sipd!.rpc<Usage>('limits.usage', ['alice']);
    assert.ok(u.used.costDay >= 1, JSON.stringify(u));
    ok((await call('alice', '+4930123456', 403)).uac, 'caller refused after restart');
  });

  test('the CDRs: the call ended at the limit after its budget, the refused ones rejected', async () => {
    await sipd!.stop();
    const rows = await cdrs();
    const held = rows.find((r) => r.end_reason === 'cost-limit');
    assert.ok(held !== undefined, JSON.stringify(rows));
    assert.equal(held.src_user, 'alice');
    assert.equal(held.dst_ouser, '+4989123456');
    assert.ok(Number(held.duration) >= 5 - 0.2, String(held.duration));
    assert.equal(rows.filter((r) => r.src_user === 'alice' && r.sip_code === '403').length, 2, JSON.stringify(rows));
  });
});
