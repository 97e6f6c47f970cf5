// The User-Agent allow-list (issue 13 rule 2, module uafilter) against a real sipd: real sipp
// REGISTERs with digest auth from a subscriber in a group with an allow pattern — a matching
// User-Agent registers (200), another one is refused (403 User-Agent not allowed, counted, not
// saved); a subscriber in no filtered group is not affected. Changes go through the built sipctl,
// so the command's reload reaches the running sipd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';
import { sippRegister } from '../attack/attack-tools.js';
import { makeDb, startSipd, type SipdProcess } from './sipd-process.js';

describe('sipd uafilter: User-Agent allow-list per group, with sipctl and sipp', () => {
  let dir: string;
  let sipd: SipdProcess;
  let env: NodeJS.ProcessEnv;
  const sipctl = async (...args: string[]) => {
    const r = await runSipctl(args, { env });
    assert.equal(r.code, 0, `sipctl ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  before(async () => {
    requireComponent(toolsMissing('sipp'));
    dir = mkdtempSync(join(tmpdir(), 'sipd-uafilter-'));
    const dbUrl = await makeDb(dir);
    env = isolatedEnv({ SIPCTL_DB: dbUrl, NO_COLOR: '1' });
    await sipctl('add', 'alice@127.0.0.1', 'Str0ng-enough-pw1', '--store-plaintext');
    await sipctl('add', 'bob@127.0.0.1', 'Str0ng-enough-pw2', '--store-plaintext');
    await sipctl('acl', 'grant', 'alice@127.0.0.1', 'phones');
    sipd = await startSipd({ dbUrl, config: { domain: ['127.0.0.1'], modules: { scanner: { user_agents: ['friendly-scanner'] } } } });
    env = { ...env, SIPCTL_RPC: sipd.rpcUrl };
  });
  after(async () => {
    await sipd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
  });

  const reg = (user: string, password: string, userAgent: string) =>
    sippRegister({ sipPort: sipd.sipPort, user, password, userAgent, localIp: '127.0.0.1', timeoutMs: 20_000 });

  test('group phones allows only Yealink: matching UA → 200, another UA → 403; bob (no group) unaffected; rm lifts it', async () => {
    const before = await reg('alice', 'Str0ng-enough-pw1', 'Grandstream GXP2170');
    assert.equal(before.successful, 1, `no pattern yet: any UA registers\n${before.stdout}\n${before.stderr}`);
    const add = await sipctl('uafilter', 'add', 'phones', '^Yealink SIP-T4[0-9]', '--json');
    const id = JSON.parse(add.stdout).rule.id as number;
    assert.deepEqual((await sipd.rpc<Array<{ pattern: string }>>('uafilter.list')).map((r) => r.pattern), ['^Yealink SIP-T4[0-9]'], 'the add reloaded sipd');
    const ok = await reg('alice', 'Str0ng-enough-pw1', 'Yealink SIP-T46S 66.85.0.5');
    assert.equal(ok.successful, 1, `matching UA registers (200):\n${ok.stdout}\n${ok.stderr}`);
    const refused = await reg('alice', 'Str0ng-enough-pw1', 'Grandstream GXP2170');
    assert.equal(refused.successful, 0, 'another UA must not register');
    assert.match(`${refused.stdout}\n${refused.stderr}`, /403/, 'sipp saw a 403');
    const stats = await sipd.rpc<{ rules: number; refused: number }>('uafilter.stats');
    assert.equal(stats.rules, 1);
    assert.ok(stats.refused >= 1, `refused ${stats.refused}`);
    const bob = await reg('bob', 'Str0ng-enough-pw2', 'Grandstream GXP2170');
    assert.equal(bob.successful, 1, `bob is in no filtered group:\n${bob.stdout}`);
    await sipctl('uafilter', 'rm', String(id), '--yes');
    assert.equal((await reg('alice', 'Str0ng-enough-pw1', 'Grandstream GXP2170')).successful, 1, 'pattern removed: registers again');
  });
});
