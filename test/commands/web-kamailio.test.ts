// sipctl web against the real lab Kamailio 5.6 (dispatcher and dialplan modules loaded,
// test/helpers/kamailio-modules.ts) on SQLite made by `sipctl db init`: the dispatcher page's state
// toggle changes what Kamailio's own dispatcher.list says (the oracle), and the dialplan tester
// answers what dialplan.translate answers. The browser test does the same through the pages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { kamailioMissing, startKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { ISSUE12_MODULES } from '../helpers/kamailio-modules.js';
import { requireComponent } from '../helpers/require.js';
import { WebClient, startWeb, type WebProcess } from '../unit/web/web-process.js';

const OPS_PW = 'Operator-pass-2026';

describe('sipctl web against Kamailio 5.6 [sqlite]', () => {
  let t: TestDb;
  let k: KamailioInstance;
  let env: NodeJS.ProcessEnv;
  let web: WebProcess | undefined;
  const s = (args: string[], input?: string) => runSipctl(args, { env, input });

  before(async () => {
    requireComponent(kamailioMissing());
    t = await createTestDb('sqlite', { init: false });
    env = isolatedEnv({ SIPCTL_DB: t.url, NO_COLOR: '1' });
    const init = await s(['db', 'init']);
    assert.equal(init.code, 0, init.stderr);
    k = await startKamailio({ dbUrl: t.fullUrl, extraModules: ISSUE12_MODULES });
    env.SIPCTL_RPC = k.rpcUrl;
    assert.equal((await s(['web', 'user', 'add', 'ops', '--role', 'operator', '--password-stdin'], OPS_PW)).code, 0);
  });
  after(async () => {
    await web?.stop();
    await k?.stop();
    await t?.drop();
    if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
  });

  test('dispatcher: the state toggle changes dispatcher.list; the dialplan tester translates', async () => {
    const add = await s(['dispatcher', 'add', '1', 'sip:192.0.2.30:5060', '--attrs', 'weight=50', '--description', 'gateway A', '--reload']);
    assert.equal(add.code, 0, add.stderr);
    const flags = async () => (await k.rpc('dispatcher.list')).result.RECORDS[0].SET.TARGETS[0].DEST.FLAGS as string;
    assert.equal(await flags(), 'AX');

    web = await startWeb(env);
    const ops = new WebClient(web.url);
    assert.equal((await ops.login('ops', OPS_PW)).status, 200);

    const before = await ops.call('GET', '/api/dispatcher');
    assert.equal(before.status, 200, before.text);
    assert.equal(before.json.warnings, undefined, before.text);
    const row = before.json.data.items[0];
    assert.deepEqual([row.setid, row.destination, row.description, row.state, row.probing], [1, 'sip:192.0.2.30:5060', 'gateway A', 'active', false]);

    const noCsrf = await ops.call('POST', '/api/dispatcher/state', { setid: 1, destination: 'sip:192.0.2.30:5060', state: 'inactive' }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal(await flags(), 'AX', 'refused without the CSRF token: Kamailio unchanged');

    const off = await ops.call('POST', '/api/dispatcher/state', { setid: 1, destination: 'sip:192.0.2.30:5060', state: 'inactive' });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.command, 'sipctl dispatcher set-state inactive 1 sip:192.0.2.30:5060');
    assert.equal(off.json.data.nodes[0].ok, true);
    assert.equal(await flags(), 'IX');
    assert.equal((await ops.call('GET', '/api/dispatcher')).json.data.items[0].state, 'inactive');

    const probing = await ops.call('POST', '/api/dispatcher/state', { setid: 1, destination: 'sip:192.0.2.30:5060', state: 'probing' });
    assert.equal(probing.status, 200, probing.text);
    assert.match(await flags(), /^IP/);
    assert.equal((await ops.call('GET', '/api/dispatcher')).json.data.items[0].probing, true);

    const on = await ops.call('POST', '/api/dispatcher/state', { setid: 1, destination: 'sip:192.0.2.30:5060', state: 'active' });
    assert.equal(on.status, 200, on.text);
    assert.equal(await flags(), 'AX');
    const notLoaded = await ops.call('POST', '/api/dispatcher/state', { setid: 2, destination: 'sip:192.0.2.99', state: 'active' });
    assert.equal(notLoaded.status, 404, notLoaded.text);
    assert.equal(notLoaded.json.error.code, 'DISPATCHER_NOT_LOADED');

    const rule = await s(['dialplan', 'add', '1', '^00([1-9][[:digit:]]+)$', '+\\1', '--attrs', 'intl', '--reload']);
    assert.equal(rule.code, 0, rule.stderr);
    const tr = await ops.call('POST', '/api/dialplan/translate', { dpid: 1, input: '004930123' });
    assert.equal(tr.status, 200, tr.text);
    assert.deepEqual(tr.json.data.nodes[0].result, { input: '004930123', output: '+4930123', attrs: 'intl' });
    assert.deepEqual((await k.rpc('dialplan.translate', [1, '004930123'])).result, { Output: '+4930123', Attributes: 'intl' });
    const none = await ops.call('POST', '/api/dialplan/translate', { dpid: 1, input: 'abc' });
    assert.equal(none.status, 404, none.text);
    const rules = await ops.call('GET', '/api/dialplan');
    assert.equal(rules.json.data.items[0].matchExp, '^00([1-9][[:digit:]]+)$');

    const dash = await ops.call('GET', '/api/dashboard');
    assert.equal(dash.status, 200, dash.text);
    assert.equal(dash.json.data.nodes[0].ok, true, dash.text);
    assert.deepEqual(dash.json.data.alerts, [], 'Kamailio has no alerts module');
    assert.deepEqual(dash.json.data.alertErrors, [], 'its 500 Method Not Found is no error');
    const nodes = await ops.call('GET', '/api/nodes');
    assert.equal(nodes.status, 200, nodes.text);
    assert.equal(nodes.json.data.items[0].ok, true, nodes.text);
    assert.match(nodes.json.data.items[0].version, /kamailio 5\.6/i);
    assert.equal(nodes.json.data.items[0].cluster, undefined, 'Kamailio has no cluster.nodes');

    assert.equal(await web.stop(), 0, web.output());
    web = undefined;
  });
});
