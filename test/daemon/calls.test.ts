// Calls through the real sipd (bin/sipd.js) between real sipp instances: a caller and a callee
// both registered through sipd, a carrier on a second loopback address (address group 200), the
// outbound trunk, blocked prefixes, the active-calls limit, the maximum call duration, and a
// forged in-dialog BYE. Every sipp run has a hard timeout and is killed with its process group.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { ok, register, scenario, settle, sipp } from './calls-support.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, statusOf, udpExchange, type SipdProcess } from './sipd-process.js';
import { requireTools } from '../helpers/require.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const MAX_DURATION = 3;

describe('calls through sipd between sipp instances', () => {
  before(() => requireTools('sipp'));
  let dir: string;
  let dbUrl: string;
  let sipd: SipdProcess;
  let alicePort: number;
  let bobPort: number;
  let carrierPort: number;
  const proxy = () => `127.0.0.1:${sipd.sipPort}`;

  /** alice (authenticated) calls `service` with `caller`, while `callee` answers on `calleeIp:calleePort`. */
  async function call(o: { service: string; caller: string; callerVars?: Record<string, string | number>; callee?: string; calleeVars?: Record<string, string | number>; calleeIp?: string; calleePort?: number }) {
    const uas = o.callee === undefined ? undefined : sipp({ scenario: scenario(o.callee, o.calleeVars), localIp: o.calleeIp ?? '127.0.0.1', localPort: o.calleePort ?? bobPort, timeoutMs: 20_000 });
    if (uas) await settle();
    const uac = sipp({ scenario: scenario(o.caller, { USER: 'alice', ...o.callerVars }), remote: proxy(), localPort: alicePort, service: o.service, user: 'alice', password: PASSWORD, timeoutMs: 20_000 });
    const [a, b] = await Promise.all([uac.done, uas?.done]);
    return { uac: a, uas: b };
  }

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-calls-'));
    dbUrl = await makeDb(dir);
    const db = await openDatabase(dbUrl);
    try {
      for (const u of ['alice', 'bob', 'carol']) await addSubscriber(db, u, '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
      await db.execute("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (200, '127.0.0.2', 32, 0, 'test carrier')");
      await db.execute("INSERT INTO mtree (tprefix, tvalue) VALUES ('+44', 'uk'), ('+881', 'satellite')");
    } finally {
      await db.close();
    }
    [alicePort, bobPort, carrierPort] = [await freeSipPort(), await freeSipPort(), await freeSipPort()];
    sipd = await startSipd({
      dbUrl,
      config: {
        modules: {
          scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
          pike: { trusted_groups: '200' },
          proxy: { carrier_host: '127.0.0.2', carrier_port: carrierPort },
          dialog: { max_calls_per_user: 1, default_timeout: MAX_DURATION },
        },
      },
    });
    // both parties registered through sipd, from the ports they take calls on
    ok(await register({ proxyPort: sipd.sipPort, user: 'bob', password: PASSWORD, localPort: bobPort }), 'REGISTER bob');
    ok(await register({ proxyPort: sipd.sipPort, user: 'alice', password: PASSWORD, localPort: alicePort }), 'REGISTER alice');
  });

  after(async () => {
    if (sipd !== undefined && sipd.child.exitCode === null) await sipd.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('call set-up, answer and BYE: INVITE with digest auth → 180 → 200 → ACK → BYE, through sipd both ways', async () => {
    const r = await call({ service: 'bob', caller: 'caller.xml', callee: 'callee.xml' });
    ok(r.uac, 'caller');
    ok(r.uas!, 'callee');
    assert.deepEqual(await sipd.rpc('dlg.list'), [], 'the dialog ended with the BYE');
  });

  test('CANCEL before the answer: 200 for the CANCEL, 487 for the INVITE, at both ends', async () => {
    const r = await call({ service: 'bob', caller: 'caller-cancel.xml', callee: 'callee-cancel.xml' });
    ok(r.uac, 'caller');
    ok(r.uas!, 'callee');
  });

  test('callee busy: the 486 is relayed back (and the ACKs stay hop by hop)', async () => {
    const r = await call({ service: 'bob', caller: 'caller-fail.xml', callerVars: { STATUS: 486 }, callee: 'callee-reject.xml', calleeVars: { STATUS: 486, REASON: 'Busy Here' } });
    ok(r.uac, 'caller');
    ok(r.uas!, 'callee');
  });

  test('callee not registered → 404', async () => {
    const r = await call({ service: 'carol', caller: 'caller-fail.xml', callerVars: { STATUS: 404 } });
    ok(r.uac, 'caller');
  });

  test('a carrier in address group 200 (127.0.0.2) calls a registered user without digest auth', async () => {
    const uas = sipp({ scenario: scenario('callee.xml'), localPort: bobPort, timeoutMs: 20_000 });
    await settle();
    const carrier = sipp({ scenario: scenario('carrier-call.xml', { FROM: '+4930123456' }), remote: proxy(), localIp: '127.0.0.2', localPort: await freeSipPort(), service: 'bob', timeoutMs: 20_000 });
    const [c, u] = await Promise.all([carrier.done, uas.done]);
    ok(c, 'carrier');
    ok(u, 'callee');
  });

  test('the same INVITE from 127.0.0.3 (not in the group) is refused: challenged, never relayed', async () => {
    const before = (await sipd.rpc<{ relayed: number }>('proxy.stats')).relayed;
    const r = sipp({ scenario: scenario('uac-refused.xml', { FROM: '+4930123456', STATUS: 407 }), remote: proxy(), localIp: '127.0.0.3', localPort: await freeSipPort(), service: 'bob', timeoutMs: 15_000 });
    ok(await r.done, 'stranger');
    assert.equal((await sipd.rpc<{ relayed: number }>('proxy.stats')).relayed, before, 'nothing went to bob');
  });

  test('an unregistered number goes out through the carrier trunk (a sipp UAS on 127.0.0.2)', async () => {
    const r = await call({ service: '+4930999888', caller: 'caller.xml', callee: 'callee.xml', calleeIp: '127.0.0.2', calleePort: carrierPort });
    ok(r.uac, 'caller');
    ok(r.uas!, 'carrier');
  });

  test('a blocked prefix is refused: 403 Destination blocked, nothing reaches the carrier', async () => {
    const before = (await sipd.rpc<{ relayed: number }>('proxy.stats')).relayed;
    const r = await call({ service: '+447700900123', caller: 'caller-fail.xml', callerVars: { STATUS: 403 } });
    ok(r.uac, 'caller');
    assert.equal((await sipd.rpc<{ relayed: number }>('proxy.stats')).relayed, before);
    const [cdr] = (await (async () => {
      const db = await openDatabase(dbUrl);
      try {
        await new Promise((res) => setTimeout(res, 400)); // acc writes in batches
        return await db.query<{ dst_ouser: string; sip_code: string; sip_reason: string }>("SELECT dst_ouser, sip_code, sip_reason FROM acc_cdrs WHERE dst_ouser = '+447700900123'");
      } finally {
        await db.close();
      }
    })());
    assert.deepEqual(cdr, { dst_ouser: '+447700900123', sip_code: '403', sip_reason: 'Destination blocked' });
  });

  test('the active-calls limit (1) refuses the next call while one is up: 403 No more active calls', async () => {
    const first = call({ service: '+4930111222', caller: 'caller.xml', callerVars: { HOLD: 2000 }, callee: 'callee.xml', calleeIp: '127.0.0.2', calleePort: carrierPort });
    // wait until the first call is up
    const deadline = Date.now() + 10_000;
    while ((await sipd.rpc<unknown[]>('dlg.list')).length === 0) {
      assert.ok(Date.now() < deadline, 'the first call never came up');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await sipd.rpc('dlg.profile_get_size', ['caller', 'alice']), 1);
    const second = sipp({ scenario: scenario('caller-fail.xml', { USER: 'alice', STATUS: 403 }), remote: proxy(), localPort: await freeSipPort(), service: 'bob', user: 'alice', password: PASSWORD, timeoutMs: 15_000 });
    ok(await second.done, 'second call refused');
    const r = await first;
    ok(r.uac, 'first call, caller');
    ok(r.uas!, 'first call, carrier');
  });

  test(`a call longer than the limit (${MAX_DURATION} s) is torn down: BYE to both sides`, async () => {
    const r = await call({ service: 'bob', caller: 'caller-held.xml', callee: 'callee.xml' });
    ok(r.uac, 'caller got a BYE');
    ok(r.uas!, 'callee got a BYE');
    // ended by the limit (not early, not by a side): sipd's log here, its CDR's end_reason and duration below
    assert.ok(sipd.lines().some((l) => l.msg === 'dialog: maximum call duration reached; ending the call'));
  });

  test('a forged in-dialog BYE for an unknown dialog gets 404 and reaches nobody', async () => {
    const before = await sipd.rpc<{ relayed: number; no_dialog: number }>('proxy.stats');
    const bye = [
      `BYE sip:bob@127.0.0.1:${bobPort} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-forged-1;rport',
      `Route: <sip:127.0.0.1:${sipd.sipPort};lr>`,
      'From: <sip:alice@127.0.0.1>;tag=forged-from',
      'To: <sip:bob@127.0.0.1>;tag=forged-to',
      'Call-ID: forged-call-id@attacker',
      'CSeq: 2 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const reply = await udpExchange(sipd.sipPort, bye, { timeoutMs: 3000 });
    assert.equal(statusOf(reply), 404, reply);
    assert.match(reply!, /^SIP\/2\.0 404 Not here\r\n/);
    const afterStats = await sipd.rpc<{ relayed: number; no_dialog: number }>('proxy.stats');
    assert.equal(afterStats.relayed, before.relayed, 'not relayed anywhere');
    assert.equal(afterStats.no_dialog, before.no_dialog + 1);
  });

  test('every call left a CDR: caller, callee, disposition, why it ended', async () => {
    await new Promise((r) => setTimeout(r, 400));
    const db = await openDatabase(dbUrl);
    try {
      const rows = await db.query<{ src_user: string; dst_ouser: string; sip_code: string; end_reason: string; duration: number }>('SELECT src_user, dst_ouser, sip_code, end_reason, duration FROM acc_cdrs ORDER BY id');
      const seen = rows.map((r) => `${r.src_user}→${r.dst_ouser} ${r.sip_code} ${r.end_reason}`);
      for (const want of ['alice→bob 200 caller-bye', 'alice→bob 487 cancelled', 'alice→bob 486 failed', 'alice→carol 404 rejected', '+4930123456→bob 200 caller-bye', 'alice→+4930999888 200 caller-bye', 'alice→+447700900123 403 rejected', 'alice→bob 403 rejected', 'alice→bob 200 max-duration']) {
        assert.ok(seen.includes(want), `${want} not in\n${seen.join('\n')}`);
      }
      const held = rows.find((r) => r.end_reason === 'max-duration')!;
      // the duration sipd recorded: not cut before the limit (how late its timer fires depends on the load)
      assert.ok(held.duration >= MAX_DURATION - 0.2, String(held.duration));
    } finally {
      await db.close();
    }
  });
});
