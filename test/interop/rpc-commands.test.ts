// Issue 3 interop: every RPC command of sipctl against a live proxy (Kamailio 5.6 by default,
// see rpc-target.ts), checked against an independent view of the same daemon (kamcmd / a plain
// JSON-RPC call), over HTTP, the FIFO and the datagram socket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { EXTRA_TRANSPORTS, TARGET, makeProxyDb, oneLine, registerWithUserAgent, sipctlWith, startProxy, stopAllProxies, targetMissing, type ProxyDb, type ProxyUnderTest } from './rpc-target.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';

after(stopAllProxies);

describe(`sipctl RPC commands against ${TARGET}`, () => {
  before(() => requireComponent(targetMissing() ?? toolsMissing('sipsak')));
  let pdb: ProxyDb;
  let px: ProxyUnderTest;
  let sipctl: ReturnType<typeof sipctlWith>;

  before(async () => {
    pdb = await makeProxyDb();
    const add = await sipctlWith(pdb.env)(['add', '1001', 'Str0ng-enough-pw', '--store-plaintext']);
    assert.equal(add.code, 0, add.stderr);
    px = await startProxy({ dbUrl: pdb.db.fullUrl });
    sipctl = sipctlWith({ ...pdb.env, SIPCTL_RPC: px.rpcUrl });
  });
  after(async () => {
    await px?.stop();
    await pdb?.db.drop();
  });

  test('status, uptime, version: one line per node', async () => {
    const s = await sipctl(['status']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/RPC\\tup\\t${px.expect.version.source}\\t\\d+\\thttp [\\d.]+ ms\\n$`));
    const j = JSON.parse((await sipctl(['status', '--json'])).stdout);
    assert.equal(j.nodes.length, 1);
    assert.equal(j.nodes[0].ok, true);
    assert.equal(typeof j.nodes[0].result.uptime, 'number');
    const u = await sipctl(['uptime']);
    assert.match(u.stdout, /\t\d+\t\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n$/);
    const v = JSON.parse((await sipctl(['version', '--json'])).stdout);
    assert.match(v.nodes[0].result.version, new RegExp(`^${px.expect.version.source}$`));
    assert.equal(v.sipctl, '0.1.0');
  });

  test('rpc METHOD: YAML-like text, --json raw, kamcmd-typed params, errors exit 6 in one line', async () => {
    const t = await sipctl(['rpc', 'core.uptime']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^now: .+\nup_since: .+\nuptime: \d+\n$/);
    const j = await sipctl(['rpc', 'htable.listTables', '--json']);
    assert.deepEqual(JSON.parse(j.stdout).nodes[0].result.map((x: { name: string }) => x.name).sort(), ['MessageCount', 'ipban', 'userban']);
    const set = await sipctl(['rpc', 'htable.seti', 'MessageCount', 'typed', '42']);
    assert.equal(set.stdout, 'Ok. Key set to new value.\n');
    assert.deepEqual((await px.rpc('htable.get', ['MessageCount', 'typed'])).result.item.value, 42);
    const e = await sipctl(['rpc', 'no.such']);
    assert.equal(e.code, 6);
    assert.equal(oneLine(e.stderr), px.expect.unknownMethod);
    assert.equal(e.stdout, '');
  });

  test('htable list, sets + get agree with kamcmd htable.get, dump, delete', async () => {
    const l = await sipctl(['htable', 'list']);
    assert.deepEqual(l.stdout.trim().split('\n').map((r) => r.split('\t')[0]).sort(), ['MessageCount', 'ipban', 'userban']);
    const s = await sipctl(['htable', 'sets', 'ipban', '192.0.2.10', 'manual']);
    assert.equal(s.code, 0, s.stderr);
    const g = await sipctl(['htable', 'get', 'ipban', '192.0.2.10', '--json']);
    const item = JSON.parse(g.stdout).nodes[0].result;
    assert.deepEqual({ key: item.key, value: item.value, type: item.type }, { key: '192.0.2.10', value: 'manual', type: 'str' });
    const k = await px.kamcmd!('htable.get', 'ipban', '192.0.2.10');
    assert.match(k.stdout, /name: 192\.0\.2\.10\n\s+value: manual\n/);
    const i = await sipctl(['htable', 'seti', 'ipban', '192.0.2.11', '3']);
    assert.equal(i.code, 0);
    assert.match((await px.kamcmd!('htable.get', 'ipban', '192.0.2.11')).stdout, /value: 3\n/);
    const d = await sipctl(['htable', 'dump', 'ipban']);
    assert.deepEqual(d.stdout.trim().split('\n').sort(), ['192.0.2.10\tmanual\tstr', '192.0.2.11\t3\tint']);
    const f = await sipctl(['htable', 'dump', 'ipban', '--filter', '*.11', '--json']);
    assert.deepEqual(JSON.parse(f.stdout), { nodes: [{ node: px.rpcUrl, ok: true, result: [{ name: '192.0.2.11', value: 3, type: 'int' }] }], warnings: [] });
    const noYes = await sipctl(['htable', 'delete', 'ipban', '192.0.2.10']);
    assert.equal(noYes.code, 2);
    assert.match(oneLine(noYes.stderr), /--yes/);
    const dry = await sipctl(['htable', 'delete', 'ipban', '192.0.2.10', '--dry-run']);
    assert.equal(dry.stdout, 'would delete 192.0.2.10 (manual)\n');
    assert.match((await px.kamcmd!('htable.get', 'ipban', '192.0.2.10')).stdout, /value: manual/, '--dry-run changed nothing');
    const del = await sipctl(['htable', 'delete', 'ipban', '192.0.2.10', '--yes']);
    assert.equal(del.stdout, 'Ok. Key deleted.\n');
    assert.match((await px.kamcmd!('htable.get', 'ipban', '192.0.2.10')).stdout, /Key name doesn't exist/);
    const again = await sipctl(['htable', 'delete', 'ipban', '192.0.2.10', '-y']);
    assert.equal(again.code, 3);
    assert.equal(oneLine(again.stderr), 'sipctl: key 192.0.2.10 not found in htable ipban');
  });

  test('htable: refused values, missing keys and tables, flush needs --yes, reload of a non-db table', async () => {
    const bad = await sipctl(['htable', 'seti', 'MessageCount', 'n', '12abc']);
    assert.equal(bad.code, 2);
    assert.match(oneLine(bad.stderr), /not an integer/);
    assert.match((await px.kamcmd!('htable.get', 'MessageCount', 'n')).stdout, /doesn't exist/, 'nothing stored (Kamailio would store 0)');
    assert.equal((await sipctl(['htable', 'get', 'ipban', '203.0.113.99'])).code, 3);
    const nt = await sipctl(['htable', 'dump', 'nosuchtable']);
    assert.equal(nt.code, 3);
    assert.match(oneLine(nt.stderr), /no htable named nosuchtable/);
    await sipctl(['htable', 'sets', 'MessageCount', 'a', '1']);
    const noYes = await sipctl(['htable', 'flush', 'MessageCount']);
    assert.equal(noYes.code, 2);
    assert.match(oneLine(noYes.stderr), /--yes/);
    assert.ok((await px.rpc('htable.dump', ['MessageCount'])).result.length > 0, 'nothing flushed without --yes');
    const yes = await sipctl(['htable', 'flush', 'MessageCount', '--yes']);
    assert.equal(yes.stdout, 'Ok. Htable flushed.\n');
    assert.deepEqual((await px.rpc('htable.dump', ['MessageCount'])).result, []);
    const rl = await sipctl(['htable', 'reload', 'ipban']);
    assert.equal(rl.code, 6);
    assert.match(oneLine(rl.stderr), /No htable db_url/);
  });

  test('untrusted values: an ESC in an htable value is escaped on output, raw in JSON', async () => {
    const evil = 'x\u001b[2J\u001b]0;pwned\u0007\u009bend';
    assert.equal((await sipctl(['htable', 'sets', 'MessageCount', 'evil', evil])).code, 0);
    assert.equal((await px.rpc('htable.get', ['MessageCount', 'evil'])).result.item.value, evil);
    const out = (await sipctl(['htable', 'dump', 'MessageCount'])).stdout + (await sipctl(['htable', 'get', 'MessageCount', 'evil'])).stdout + (await sipctl(['rpc', 'htable.get', 'MessageCount', 'evil'])).stdout;
    assert.ok(!/[\x1b\x07\x9b]/.test(out), `raw control characters reached the terminal: ${JSON.stringify(out)}`);
    assert.match(out, /x\\x1b\[2J\\x1b\]0;pwned\\x07\\x9bend/);
    assert.equal(JSON.parse((await sipctl(['htable', 'get', 'MessageCount', 'evil', '--json'])).stdout).nodes[0].result.value, evil);
  });

  test('unban removes the ipban key and only that address\'s userban keys', async () => {
    const ip = '198.51.100.7';
    await px.rpc('htable.seti', ['ipban', ip, 1]);
    await px.rpc('htable.seti', ['userban', `${ip}::alice::auth_count`, 3]);
    await px.rpc('htable.seti', ['userban', `${ip}::alice::last_auth`, 1795238853]);
    await px.rpc('htable.seti', ['userban', `${ip}0::bob::auth_count`, 3]); // 198.51.100.70: another address
    const r = await sipctl(['unban', ip]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `unbanned ${ip}: ipban entry removed, 2 userban key(s) removed\n`);
    assert.match((await px.kamcmd!('htable.get', 'ipban', ip)).stdout, /doesn't exist/);
    const left = (await px.rpc('htable.dump', ['userban'])).result.flatMap((e: { slot: Array<{ name: string }> }) => e.slot.map((s) => s.name));
    assert.deepEqual(left, [`${ip}0::bob::auth_count`]);
    const again = await sipctl(['unban', ip, '--json']);
    assert.equal(again.code, 0);
    assert.deepEqual(JSON.parse(again.stdout).nodes[0].result, { ip, ipban: false, userbanKeys: [] });
    assert.equal((await sipctl(['unban', 'not-an-ip'])).code, 2);
  });

  test('ul: REGISTERs (sipsak; one with terminal control codes in User-Agent) show in ul dump escaped; show, --json, --filter, rm', async () => {
    const reg = await sipsakRegister({ user: '1001', password: 'Str0ng-enough-pw', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: px.sipPort, contactPort: 5092 });
    assert.ok(reg.ok, reg.output.slice(-600));
    // a second contact whose User-Agent carries escape sequences the proxy accepts (rpc-target.ts)
    const { raw: ua, printed } = px.expect.hostileUserAgent;
    const r2 = await registerWithUserAgent(px, { user: '1001', password: 'Str0ng-enough-pw', contactPort: 5093, userAgent: ua });
    assert.ok(r2.ok, r2.log.join('\n'));

    const d = await sipctl(['ul', 'dump']);
    assert.equal(d.code, 0, d.stderr);
    const rows = d.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows.map((r) => r[1]).sort(), ['sip:1001@127.0.0.1:5092', 'sip:1001@127.0.0.1:5093']);
    const evilRow = rows.find((r) => r[1] === 'sip:1001@127.0.0.1:5093')!;
    assert.equal(evilRow[0], '1001');
    assert.ok(Number(evilRow[2]) > 50 && Number(evilRow[2]) <= 60, 'expires in (s)');
    assert.equal(evilRow[4], printed);
    assert.match(evilRow[5]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(d.stdout), 'no raw control character reached the terminal');

    // --json: sipctl's normalised contact records, the same in ul dump and ul show
    const j = JSON.parse((await sipctl(['ul', 'dump', '--json'])).stdout);
    const dumped = j.nodes[0].result as Array<Record<string, unknown>>;
    assert.deepEqual(dumped.map((c) => c.userAgent).sort(), [ua, dumped.find((c) => c.contact === 'sip:1001@127.0.0.1:5092')!.userAgent].sort(), 'values as they are');
    const s = await sipctl(['ul', 'show', 'sip:1001@127.0.0.1', '--json']);
    const shown = JSON.parse(s.stdout).nodes[0].result;
    assert.equal(shown.aor, '1001');
    const byContact = (rows: Array<Record<string, unknown>>) => Object.fromEntries(rows.map((r) => [r.contact, { ...r, expires: typeof r.expires }]));
    assert.deepEqual(byContact(shown.contacts), byContact(dumped), 'one record in both');
    for (const c of dumped) {
      assert.deepEqual(Object.keys(c).sort(), ['aor', 'callId', 'contact', 'cseq', 'domain', 'expires', 'lastModified', 'q', 'received', 'ruid', 'socket', 'userAgent']);
      assert.ok(!Object.values(c).includes('[not set]'), 'unset values are null');
    }
    // --raw: the proxy's own structures
    const raw = JSON.parse((await sipctl(['ul', 'dump', '--json', '--raw'])).stdout).nodes[0].result;
    const uas = raw.Domains[0].Domain.AoRs[0].Info.Contacts.map((c: { Contact: { 'User-Agent': string } }) => c.Contact['User-Agent']);
    assert.ok(uas.includes(ua), 'the proxy\'s own structure, values as they are');
    const rawShow = JSON.parse((await sipctl(['ul', 'show', '1001', '--json', '--raw'])).stdout).nodes[0].result;
    assert.equal(rawShow.Contacts.length, 2);
    const none = JSON.parse((await sipctl(['ul', 'dump', '--json', '--filter', 'nobody*'])).stdout);
    assert.deepEqual(none.nodes[0].result, []);
    assert.equal((await sipctl(['ul', 'show', 'nobody'])).code, 3);
    const rmNoYes = await sipctl(['ul', 'rm', '1001']);
    assert.equal(rmNoYes.code, 2);
    assert.match(oneLine(rmNoYes.stderr), /--yes/);
    const rmDry = await sipctl(['ul', 'rm', '1001', '--dry-run']);
    assert.equal(rmDry.stdout, 'would remove 1001 (2 contact(s))\n');
    assert.equal((await px.rpc('ul.lookup', ['location', '1001'])).result.Contacts.length, 2, '--dry-run removed nothing');
    const rm = await sipctl(['ul', 'rm', '1001', '--yes']);
    assert.equal(rm.stdout, 'removed 1001 (2 contact(s))\n');
    // Kamailio answers either: the emptied record may still be in memory until usrloc's timer drops it
    assert.match((await px.rpc('ul.lookup', ['location', '1001'])).error?.message ?? '(no error)', /^AOR (not found in location table|has no contacts)$/);
    const rm2 = await sipctl(['ul', 'rm', '1001', '--yes']);
    assert.equal(rm2.code, 3);
    assert.equal(oneLine(rm2.stderr), 'sipctl: 1001 is not registered');
  });

  for (const via of EXTRA_TRANSPORTS) {
    test(`the same commands over ${via === 'fifo' ? 'the FIFO (fifo:)' : 'the unix socket (unix:)'}`, async () => {
      const url = via === 'fifo' ? px.fifoUrl! : px.unixUrl!;
      const run = (args: string[]) => sipctl([...args, '--rpc', url]);
      const st = await run(['status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      assert.equal(JSON.parse(st.stdout).nodes[0].result.transport, via === 'fifo' ? 'fifo' : px.expect.unixTransport);
      const key = `${via}.example`;
      assert.equal((await run(['htable', 'sets', 'MessageCount', key, 'v1'])).code, 0);
      assert.match((await px.kamcmd!('htable.get', 'MessageCount', key)).stdout, /value: v1/);
      const g = await run(['htable', 'get', 'MessageCount', key]);
      assert.match(g.stdout, /value\tv1\n/);
      assert.match((await run(['htable', 'dump', 'MessageCount'])).stdout, new RegExp(`${key.replace('.', '\\.')}\\tv1\\tstr`));
      assert.equal((await run(['htable', 'delete', 'MessageCount', key, '--yes'])).code, 0);
      assert.equal((await run(['htable', 'get', 'MessageCount', key])).code, 3);
      assert.match((await run(['rpc', 'core.uptime'])).stdout, /^now: /);
      const e = await run(['rpc', 'no.such']);
      assert.equal(e.code, 6);
      assert.equal(oneLine(e.stderr), px.expect.unknownMethod);
      const batch = await sipctl(['batch', '--rpc', url], { input: 'htable seti MessageCount b1 1\nhtable get MessageCount b1\nhtable delete MessageCount b1 --yes\n' });
      assert.equal(batch.stdout, '1\tok\tOk. Key set to new value.\n2\tok\t1\n3\tok\tOk. Key deleted.\n');
    });
  }

  test('batch: one connection, one result line per command, --json lines, non-zero exit if any failed', async () => {
    const input = [
      'htable sets ipban 203.0.113.1 1',
      '# a comment, then a blank line',
      '',
      'htable get ipban 203.0.113.1',
      'htable.get ipban 203.0.113.1',
      "htable sets MessageCount 'two words' \"v a l\"",
      'htable get ipban 203.0.113.2',
      'no such command',
      'rpc core.uptime',
    ].join('\n') + '\n';
    const r = await sipctl(['batch'], { input });
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 7);
    assert.equal(lines[0], '1\tok\tOk. Key set to new value.');
    assert.equal(lines[1], '4\tok\t1');
    assert.match(lines[2]!, /^5\tok\t\{"item":\{"name":"203\.0\.113\.1"/);
    assert.equal(lines[3], '6\tok\tOk. Key set to new value.');
    assert.equal(lines[4], '7\terror\tkey 203.0.113.2 not found in htable ipban');
    assert.equal(lines[5], '8\terror\tunknown command: no');
    assert.match(lines[6]!, /^9\tok\t\{"now":/);
    assert.equal(oneLine(r.stderr), 'sipctl: 2 of 7 line(s) failed; first: line 7: key 203.0.113.2 not found in htable ipban');
    assert.equal((await px.rpc('htable.get', ['MessageCount', 'two words'])).result.item.value, 'v a l');

    const j = await sipctl(['batch', '--json'], { input: 'htable seti ipban 203.0.113.3 2\nhtable get ipban 203.0.113.3\n' });
    assert.equal(j.code, 0, j.stderr);
    const objs = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(objs.map((o) => [o.line, o.command, o.ok]), [[1, 'htable seti', true], [2, 'htable get', true]]);
    assert.equal(objs[1].result.nodes[0].result.value, 2);
  });

  test('batch: lines run in input order on every transport while later ones are already sent; a failing line fails alone', async () => {
    // every get must see the value of the set just before it, whatever the transport keeps in flight
    const n = 1500;
    const lines: string[] = [];
    const expected: string[] = [];
    let failed = 0;
    let firstFailed = 0;
    let value = '';
    for (let i = 1; lines.length < n; i++) {
      const at = lines.length + 1;
      if (i % 97 === 0) {
        lines.push('htable get MessageCount ord-missing');
        expected.push(`${at}\terror\tkey ord-missing not found in htable MessageCount`);
        failed++;
        firstFailed ||= at;
      } else if (i % 131 === 0) {
        lines.push('rpc core.uptime'); // not a quick line: runs alone, between the others
        expected.push(`${at}\tok\t{"now":`);
      } else if (i % 2 === 1) {
        value = `v${i}`;
        lines.push(`htable sets MessageCount ord ${value}`);
        expected.push(`${at}\tok\tOk. Key set to new value.`);
      } else {
        lines.push('htable get MessageCount ord');
        expected.push(`${at}\tok\t${value}`);
      }
    }
    const urls = [px.rpcUrl, ...EXTRA_TRANSPORTS.map((via) => (via === 'fifo' ? px.fifoUrl! : px.unixUrl!))];
    for (const url of urls) {
      const r = await sipctl(['batch', '--rpc', url], { input: lines.join('\n') + '\n' });
      assert.equal(r.code, 3, `${url}: ${r.stderr}`);
      const out = r.stdout.split('\n').slice(0, -1);
      assert.equal(out.length, n, url);
      out.forEach((l, i) => assert.ok(expected[i]!.endsWith('{"now":') ? l.startsWith(expected[i]!) : l === expected[i], `${url}: line ${i + 1}: ${l} (expected ${expected[i]})`));
      assert.equal(oneLine(r.stderr), `sipctl: ${failed} of ${n} line(s) failed; first: line ${firstFailed}: key ord-missing not found in htable MessageCount`);
    }
    // --stop-on-error: nothing after the failing line runs
    const stop = await sipctl(['batch', '--stop-on-error'], { input: 'htable sets MessageCount ord before\nhtable get MessageCount ord-missing\nhtable sets MessageCount ord after\n' });
    assert.equal(stop.code, 3);
    assert.equal(stop.stdout, '1\tok\tOk. Key set to new value.\n2\terror\tkey ord-missing not found in htable MessageCount\n');
    assert.equal((await px.rpc('htable.get', ['MessageCount', 'ord'])).result.item.value, 'before');
    await px.rpc('htable.delete', ['MessageCount', 'ord']);
  });

  test('shell: lines from a pipe run in order over one connection; failures make the exit code', async () => {
    const r = await sipctl(['shell'], { input: 'htable sets MessageCount sh1 one\nhtable get MessageCount sh1\ncore.version\nhtable get MessageCount nope\nhelp\nexit\nhtable flush MessageCount --yes\n' });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, new RegExp(`^Ok\\. Key set to new value\\.\\ntable\\tMessageCount\\nkey\\tsh1\\nvalue\\tone\\ntype\\tstr\\nexpire\\tNEVER\\n"?${px.expect.version.source} ?"?\\ncommands`));
    assert.match(r.stderr, /error: key nope not found in htable MessageCount/);
    assert.equal((await px.rpc('htable.get', ['MessageCount', 'sh1'])).result.item.value, 'one', 'nothing after "exit" ran');
  });
});
