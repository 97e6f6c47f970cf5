/**
 * Issue 11 §5, through the built CLI: a SQLite database sipctl creates (and its -wal/-shm) is 0600
 * whatever the umask; a config file others can read is refused only by commands that use the secret
 * it holds (`sipctl status` works, with a warning; `show` needs the database password: exit 10).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIPCTL } from '../helpers/cli.js';
import { cliFor, expectExit, oneErrorLine } from './cli-support.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('secure by default', () => {
  const cli = cliFor();
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-secure-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a SQLite database created by sipctl, and its -wal/-shm, are 0600 even under umask 000', async () => {
    const path = join(dir, 'sub', 'keys.db');
    // umask 000 in the child: an open() with 0644/0666 would give a world-readable file
    const r = spawnSync('/bin/sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, SIPCTL, 'db', 'init', '--db', `sqlite://${path}`], { env: cli.env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(mode(path), 0o600);
    // -wal and -shm exist while a connection is open: hold one open (umask 000 here too) and look
    const { default: Sqlite } = await import('better-sqlite3');
    const old = process.umask(0);
    const db = new Sqlite(path);
    try {
      db.pragma('journal_mode = WAL');
      db.prepare("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ('u', 'd', '', 'x', 'y')").run();
      for (const f of [`${path}-wal`, `${path}-shm`]) {
        assert.ok(existsSync(f), f);
        assert.equal(mode(f), 0o600, f);
      }
    } finally {
      db.close();
      process.umask(old);
    }
  });

  describe('a config file readable by group that holds a database password', () => {
    let server: Server;
    let rpcUrl: string;
    before(async () => {
      // a minimal JSON-RPC proxy answering what `sipctl status` asks (Kamailio's result shapes)
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          const { id, method } = JSON.parse(body);
          const result = method === 'core.version' ? 'kamailio 5.6.3 (x86_64/linux)' : { now: 'Sun Dec  6 12:00:00 2026', up_since: 'Sun Dec  6 11:00:00 2026', uptime: 3600 };
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ jsonrpc: '2.0', id, result }));
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      rpcUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/RPC`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    test('sipctl status works, with one warning naming chmod 600; show (needs the password) is exit 10', async () => {
      const cfg = join(dir, 'group.json');
      writeFileSync(cfg, JSON.stringify({ db: 'mysql://kam@127.0.0.1/kamailio', dbPassword: 'Group-readable-pw-1', rpc: rpcUrl }));
      chmodSync(cfg, 0o640);
      const st = await cli.run(['status', '--config', cfg]);
      expectExit(st, 0);
      assert.match(st.stdout, /kamailio 5\.6\.3/);
      assert.match(st.stderr, /^warning: config file .*group\.json holds a database password and is readable by group or others \(mode 640\): run chmod 600 /);
      const show = await cli.run(['show', 'a@example.com', '--config', cfg]);
      expectExit(show, 10);
      assert.match(oneErrorLine(show), /readable by group or others.*chmod 600/);
      for (const r of [st, show]) assert.ok(!(r.stdout + r.stderr).includes('Group-readable-pw-1'));
    });
  });
});
