// A flood from a second loopback address (sipp at 500 requests/s from 127.0.0.2, bounded: 3,000
// requests, at most 6 s) against sipd as shipped: the flooder is banned after pike's 16 requests
// per 2 s and shows in `sipctl htable dump ipban` while the flood goes on; legitimate REGISTERs
// from a third address (127.0.0.3, not exempt from pike) keep succeeding during the flood;
// `sipctl unban` lifts the ban and the address registers again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, makeDb, type SipdProcess } from '../daemon/sipd-process.js';
import { sipctlFor, sippFlood, sippRegister, startDefaultSipd } from './attack-tools.js';
import { requireTools } from '../helpers/require.js';

const PASSWORD = 'Lantern-Quartz-3391';
const FLOOD = { rate: 500, calls: 3000 };

describe('flood from 127.0.0.2 against sipd (default configuration)', () => {
  before(() => requireTools('sipp'));
  let dir: string;
  let dbUrl: string;
  let sipd: SipdProcess | undefined;
  let sipctl: ReturnType<typeof sipctlFor>;

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-attack-flood-'));
    dbUrl = await makeDb(dir);
    sipctl = sipctlFor(dbUrl, () => sipd);
    const add = await sipctl(['add', 'erin@127.0.0.1', PASSWORD]);
    assert.equal(add.code, 0, add.stderr);
    sipd = await startDefaultSipd(dbUrl, dir);
  });
  after(async () => {
    if (sipd) await sipd.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('banned within the first requests, visible in sipctl htable dump ipban; 127.0.0.3 keeps registering meanwhile; unban lifts it', async () => {
    // events in order, not milliseconds: the ban shows while the flood still runs, and the
    // legitimate REGISTERs start before it ends; "within the first requests" is the count of
    // answered flood requests below
    let floodEnded = false;
    // 3,000 at 500/s take 6 s; sipp's own -timeout is 2 s under timeoutMs, so 12 s leaves it 4 s
    // to spare on a loaded machine (with 8 s it had none: CI, compiling native addons alongside,
    // once stopped it at 2,898)
    const flooding = sippFlood({ sipPort: sipd!.sipPort, localIp: '127.0.0.2', ...FLOOD, timeoutMs: 12_000 }).finally(() => {
      floodEnded = true;
    });

    // the operator's view while the flood goes on
    let dump = '';
    while (!/^127\.0\.0\.2\t1\tint$/m.test(dump)) {
      assert.ok(!floodEnded, `the flood ended and the dump shows no ban: ${JSON.stringify(dump)}`);
      const r = await sipctl(['htable', 'dump', 'ipban']);
      assert.equal(r.code, 0, r.stderr);
      dump = r.stdout;
    }

    // legitimate client, another address, started while the flood goes on: 8 REGISTERs with digest
    // at 2/s (4 requests/s); on a loaded machine the flood may end before the last of them
    const legitStartedDuringFlood = !floodEnded;
    const legit = await sippRegister({ sipPort: sipd!.sipPort, user: 'erin', password: PASSWORD, localIp: '127.0.0.3', calls: 8, rate: 2, timeoutMs: 15_000 });
    const flood = await flooding;

    assert.deepEqual([legit.created, legit.successful, legit.failed], [8, 8, 0], legit.output.slice(-1500));
    assert.ok(legitStartedDuringFlood, 'the REGISTERs started while the flood went on');

    // the flood: bounded, and only pike's allowance was ever answered
    // sipp on a loaded 2-core machine sometimes stops a few calls short of -m; what matters is
    // that it sent thousands and only the first 16 of them were answered.
    assert.ok(flood.created >= FLOOD.calls - 50, `sipp created only ${flood.created} of ${FLOOD.calls}\n${flood.output.slice(-1500)}`);
    assert.equal(flood.successful, 16, 'the first 16 in the sampling unit are answered, then nothing');
    assert.equal(flood.failed, flood.created - 16);
    assert.equal(flood.retransmissions, 0);

    const ban = sipd!.lines().find((l) => l.event === 'flood-ban');
    assert.deepEqual({ ip: ban?.sourceIp, method: ban?.method }, { ip: '127.0.0.2', method: 'OPTIONS' });
    assert.deepEqual(await sipd!.rpc('stats.get_statistics', ['pike:bans']), ['pike:bans = 1']);
    const ipban = await sipctl(['htable', 'dump', 'ipban']);
    assert.equal(ipban.stdout, '127.0.0.2\t1\tint\n', 'only the flooder is banned, not the legitimate client');
    const ul = await sipctl(['ul', 'show', 'erin', '--json']);
    assert.equal(ul.code, 0, ul.stderr);

    // banned: the right credentials from 127.0.0.2 get no answer at all
    const blocked = await sippRegister({ sipPort: sipd!.sipPort, user: 'erin', password: PASSWORD, localIp: '127.0.0.2', timeoutMs: 10_000 });
    assert.equal(blocked.successful, 0);

    const un = await sipctl(['unban', '127.0.0.2']);
    assert.equal(un.code, 0, un.stderr);
    assert.match(un.stdout, /^unbanned 127\.0\.0\.2: ipban entry removed/);
    assert.equal((await sipctl(['htable', 'dump', 'ipban'])).stdout, '');
    const again = await sippRegister({ sipPort: sipd!.sipPort, user: 'erin', password: PASSWORD, localIp: '127.0.0.2', timeoutMs: 10_000 });
    assert.deepEqual([again.successful, again.failed], [1, 0], again.output.slice(-1500));
  });
});
