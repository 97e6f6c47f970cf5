// sipctl uafilter through the built binary on SQLite: add (regular expression validated: exit 2,
// one line, nothing written), show, rm (exit 3 when gone), and a proxy that cannot reload (exit 5,
// the change stands). The running-sipd side is test/daemon/uafilter-register.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';

test('uafilter: add (validated), show, rm on SQLite; the proxy down: exit 5, the change stands', async () => {
  const t = await createTestDb('sqlite');
  try {
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...a: string[]) => runSipctl(a, { env });
    const add = await s('uafilter', 'add', 'phones', '^Yealink SIP-T4[0-9]', '--description', 'desk phones', '--no-reload', '--json');
    assert.equal(add.code, 0, add.stderr);
    const rule = JSON.parse(add.stdout).rule;
    assert.deepEqual(rule, { id: rule.id, grp: 'phones', pattern: '^Yealink SIP-T4[0-9]', description: 'desk phones' });
    const all = await s('uafilter', 'add', '*', '^Acme', '--no-reload');
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /every subscriber may use User-Agents matching \/\^Acme\//);
    for (const bad of ['([unclosed', '', '*invalid']) {
      const r = await s('uafilter', 'add', 'phones', bad, '--no-reload');
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'one clear line');
    }
    const shown = JSON.parse((await s('uafilter', 'show', '--json')).stdout) as Array<{ grp: string; pattern: string }>;
    assert.deepEqual(shown.map((r) => [r.grp, r.pattern]), [['phones', '^Yealink SIP-T4[0-9]'], ['', '^Acme']], 'nothing half-written');
    const human = await s('uafilter', 'show');
    assert.equal(human.stdout, `${rule.id}\tphones\t^Yealink SIP-T4[0-9]\tdesk phones\n${rule.id + 1}\t*\t^Acme\t\n`, 'piped: tab-separated, no header');
    const down = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: `http://127.0.0.1:${await closedPort()}/RPC` });
    const r = await runSipctl(['uafilter', 'rm', String(rule.id), '--yes'], { env: down });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /the database is changed, but the proxy did not reload it/);
    assert.equal(JSON.parse((await s('uafilter', 'show', '--json')).stdout).length, 1);
    assert.equal((await s('uafilter', 'rm', String(rule.id), '--yes', '--no-reload')).code, 3);
  } finally {
    await t.drop();
  }
});
