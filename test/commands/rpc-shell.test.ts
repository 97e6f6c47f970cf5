// sipctl shell on a real terminal (a pseudo-terminal driven by python's pty module): the prompt,
// Tab completion of RPC method names fetched from system.listMethods and of htable names from
// htable.listTables, the history file in the data directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SIPCTL, isolatedEnv } from '../helpers/cli.js';
import { assertFreshBuild } from '../helpers/build.js';
import { requireComponent } from '../helpers/require.js';
import { startRawHttpServer, type RawHttpServer } from '../unit/rpc/servers.js';

let srv: RawHttpServer;

before(async () => {
  srv = await startRawHttpServer((req) => {
    const results: Record<string, unknown> = {
      'system.listMethods': ['core.uptime', 'core.version', 'htable.dump', 'htable.listTables'],
      'htable.listTables': [{ name: 'ipban' }, { name: 'userban' }],
      'core.uptime': { now: 'n', up_since: 'u', uptime: 42 },
      'htable.dump': [{ entry: 1, size: 1, slot: [{ name: '192.0.2.1', value: 1, type: 'int' }] }],
    };
    const body = JSON.stringify({ jsonrpc: '2.0', result: results[req.json.method] ?? null, id: req.json.id });
    return Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
});
after(() => srv.close());

// Writes each chunk after a pause (so the shell has drawn its prompt / fetched completions),
// then prints everything the terminal showed.
const DRIVER = `
import os, pty, sys, time, json
chunks = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
def drain(t):
    global out
    end = time.time() + t
    while time.time() < end:
        try:
            import select
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                out += os.read(fd, 65536)
        except OSError:
            return
for c in chunks:
    drain(0.5)
    os.write(fd, c.encode())
drain(1.5)
os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
`;

test('Tab completes method and table names; history is kept, private', async () => {
  assertFreshBuild();
  requireComponent(spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0 ? undefined : 'python3 with its pty module (Debian package python3)');
  const env = isolatedEnv({ SIPCTL_RPC: srv.url, TERM: 'xterm' });
  const chunks = ['core.up', '\t', '\r', 'htable dump ip', '\t', '\r', 'exit\r'];
  const child = spawn('python3', ['-c', DRIVER, JSON.stringify(chunks), process.execPath, SIPCTL, 'shell'], { env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
  assert.match(out, /sipctl> /);
  assert.match(out, /core\.uptime/, 'method name completed');
  assert.match(out, /uptime: 42/, 'and the completed call ran');
  assert.match(out, /htable dump ipban/, 'table name completed');
  assert.match(out, /192\.0\.2\.1/);
  const hist = join(env.XDG_DATA_HOME!, 'sipctl', 'shell_history');
  assert.ok(existsSync(hist));
  assert.deepEqual(readFileSync(hist, 'utf8').trim().split('\n'), ['core.uptime', 'htable dump ipban']);
  assert.equal(statSync(hist).mode & 0o777, 0o600);
  const methods = srv.seen.filter((r) => r.json?.method === 'system.listMethods').length;
  assert.equal(methods, 1, 'method names fetched once per session');
});
