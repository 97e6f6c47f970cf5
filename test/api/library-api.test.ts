/**
 * The library API as a user's program meets it: a project whose node_modules/sipctl is this
 * package (what `npm link` / `npm install` give), importing 'sipctl' through package.json
 * "exports", against a real SQLite database and a real sipd. Its results must be what the
 * commands print with --json (one path, not two), its errors the commands' codes and exit codes;
 * README's example runs as written; and a TypeScript program type-checks against the emitted
 * declarations ("types").
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO, isolatedEnv, runSipctl } from '../helpers/cli.js';
import { makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'sipctl-api-'));
const project = join(tmp, 'project');
let sipd: SipdProcess | undefined;
let dbUrl = '';

before(async () => {
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  symlinkSync(REPO, join(project, 'node_modules', 'sipctl'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ops-scripts', private: true, type: 'module' }));
  dbUrl = await makeDb(tmp);
  mkdirSync(join(tmp, 'state'), { mode: 0o700 }); // inside tmp, so after() removes it
  sipd = await startSipd({ dbUrl, stateDir: join(tmp, 'state') });
});

after(async () => {
  await sipd?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const SCRIPT = `
import { connect, SipctlError, NotFoundError, EXIT_CODES } from 'sipctl';
const s = await connect({ db: process.env.API_DB, rpc: process.env.API_RPC, domain: 'sip.example.com', env: {} });
const out = {};
try {
  out.add = await s.subscribers.add('alice', 'Corr3ct-Horse-Battery-9');
  out.get = await s.subscribers.get('alice@sip.example.com');
  out.list = await s.subscribers.list();
  try {
    await s.subscribers.get('nobody');
  } catch (e) {
    out.missing = { isSipctl: e instanceof SipctlError, notFound: e instanceof NotFoundError, code: e.code, category: e.category, exitCode: e.exitCode, expected: EXIT_CODES['not-found'] };
  }
  try {
    await s.subscribers.add('alice', 'Corr3ct-Horse-Battery-9');
  } catch (e) {
    out.duplicate = { code: e.code, category: e.category, exitCode: e.exitCode };
  }
  out.addressAdd = await s.addresses.add({ grp: 1, ip: '192.0.2.10', tag: 'pbx' });
  out.addresses = await s.addresses.list({ group: 1 });
  out.sets = await s.htable.sets('ipban', '198.51.100.7', 'api');
  out.seti = await s.htable.seti('ipban', '198.51.100.8', 3);
  out.dump = await s.htable.dump('ipban');
  out.item = await s.htable.get('ipban', '198.51.100.7');
  try {
    await s.htable.dump('nosuchtable');
  } catch (e) {
    out.badTable = { code: e.code, category: e.category, exitCode: e.exitCode };
  }
  out.ul = await s.ul.dump();
  out.sim = await s.sim.add({ imsi: '001010123456789', ki: '465b5ce8b199b49faa5f0a2ee238a6bc', opc: 'cd63cb71954a9f4e48a5994e37a02baf' });
  out.simGet = await s.sim.get('001010123456789');
  out.uptime = await s.rpc('core.uptime');
} finally {
  await s.close();
}
console.log(JSON.stringify(out));
`;

test("a script's `import { connect } from 'sipctl'`: subscribers, addresses, htable, ul, SIM and errors, as the commands give them", { timeout: 120_000 }, async () => {
  writeFileSync(join(project, 'ops.mjs'), SCRIPT);
  const { stdout } = await run(process.execPath, ['ops.mjs'], { cwd: project, env: { PATH: process.env.PATH, HOME: tmp, API_DB: dbUrl, API_RPC: sipd!.rpcUrl }, timeout: 60_000 });
  const out = JSON.parse(stdout);

  assert.equal(out.add.action, 'add');
  assert.deepEqual([out.get.username, out.get.domain], ['alice', 'sip.example.com']);
  assert.equal(out.get.ha1, undefined, 'no ha1 unless reveal');
  assert.equal(out.list.total, 1);
  assert.deepEqual(out.missing, { isSipctl: true, notFound: true, code: 'SUBSCRIBER_NOT_FOUND', category: 'not-found', exitCode: 3, expected: 3 });
  assert.deepEqual(out.duplicate, { code: 'SUBSCRIBER_EXISTS', category: 'conflict', exitCode: 4 });
  assert.deepEqual(out.addresses.map((a: { ip: string; grp: number; tag: string }) => [a.grp, a.ip, a.tag]), [[1, '192.0.2.10', 'pbx']]);
  assert.equal(out.sets.action, 'sets');
  const keys = Object.fromEntries(out.dump.map((r: { name: string; value: unknown }) => [r.name, r.value]));
  assert.equal(keys['198.51.100.7'], 'api');
  assert.equal(keys['198.51.100.8'], 3);
  assert.equal(out.item.value, 'api');
  assert.deepEqual(out.badTable, { code: 'HTABLE_NOT_FOUND', category: 'not-found', exitCode: 3 });
  assert.ok(Array.isArray(out.ul.contacts ?? out.ul.rows ?? out.ul), 'ul dump gives the contact records');
  assert.equal(out.sim.sim.imsi, '001010123456789');
  assert.equal(out.simGet.ki, '****', 'keys masked unless reveal, as in the CLI');
  assert.equal(typeof out.uptime, 'object');

  // The commands print the same records (one path): show, address show, htable dump, sim show.
  const env = isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_RPC: sipd!.rpcUrl, SIPCTL_DOMAIN: 'sip.example.com' });
  const json = async (args: string[]) => {
    const r = await runSipctl([...args, '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  assert.deepEqual(await json(['show', 'alice']), out.get);
  assert.deepEqual(await json(['sim', 'show', '001010123456789']), out.simGet);
  // proxy commands wrap each node's result in {nodes: [{node, ok, result}], warnings}
  const cliDump = await json(['htable', 'dump', 'ipban']);
  assert.equal(cliDump.nodes.length, 1);
  assert.deepEqual(cliDump.nodes[0].result, out.dump);
  const missing = await runSipctl(['show', 'nobody', '--json'], { env });
  assert.equal(missing.code, out.missing.exitCode);
  assert.equal(JSON.parse(missing.stderr).error.code, out.missing.code);
});

test("README's library example runs as written, with SIPCTL_DB and SIPCTL_RPC as the CLI reads them", { timeout: 120_000 }, async () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library API'));
  const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example?.includes("from 'sipctl'"), 'README has a js example under ## Library API');
  mkdirSync(join(tmp, 'readme'));
  const db = await makeDb(join(tmp, 'readme'));
  writeFileSync(join(project, 'readme-example.mjs'), example!);
  const home = mkdtempSync(join(tmp, 'home-'));
  const { stdout } = await run(process.execPath, ['readme-example.mjs'], { cwd: project, env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), SIPCTL_DB: db, SIPCTL_RPC: sipd!.rpcUrl }, timeout: 60_000 });
  const lines = stdout.trim().split('\n');
  assert.ok(lines.includes('alice sip.example.com'), stdout);
  assert.ok(lines.includes('198.51.100.7 banned by a script'), stdout);
  assert.ok(lines.includes('bob is not registered (AOR_NOT_FOUND, exit code 3)'), stdout);
});

test('a TypeScript program type-checks against the published declarations, and wrong types are errors', { timeout: 300_000 }, async () => {
  writeFileSync(
    join(project, 'ops.ts'),
    `import { connect, isSipctlError, type SubscriberView, type HtableRow, type SipctlError } from 'sipctl';
const s = await connect({ db: 'sqlite:///tmp/x.db', rpc: 'http://127.0.0.1:5071/RPC' });
const v: SubscriberView = await s.subscribers.get('alice@sip.example.com');
const id: number = v.id;
const rows: HtableRow[] = await s.htable.dump('ipban', { filter: '10.*' });
const first: string | undefined = rows[0]?.name;
try { await s.ul.show('alice'); } catch (e) { if (isSipctlError(e)) { const err: SipctlError = e; const code: number = err.exitCode; void code; } }
// @ts-expect-error a table name is a string
await s.htable.dump(42);
// @ts-expect-error subscribers have no 'nick'
void v.nick;
void id; void first;
await s.close();
`,
  );
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(REPO, 'node_modules', '@types')] }, files: ['ops.ts'] }));
  const r = await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, timeout: 240_000 }).catch((e) => e);
  assert.equal(r.code ?? 0, 0, `tsc: ${r.stdout}${r.stderr}`);
});
