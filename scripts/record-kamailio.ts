/**
 * Re-records Kamailio's replies into test/fixtures/kamailio/recorded/ (run through
 * scripts/record-kamailio.sh). Starts Debian's Kamailio on loopback from the project's lab config
 * (test/helpers/kamailio.ts: its own MariaDB database and user, its own sockets), provisions what
 * the lab had (three subscribers as kamctl stores them, the carrier address, the 1,000 sipp
 * subscribers, three sipsak registrations), then runs the lab's own recorders
 * (recorded/jsonrpc_http.sh, jsonrpc_fifo.sh, jsonrpc_dgram.py) against it, dumps the schema and
 * the location rows, and writes the files. Instance-specific ports, socket paths and the database
 * name are written back as the lab's (127.0.0.1:5060, :5071, /run/kamailio/…, kamailio), so a
 * diff shows what Kamailio changed, plus volatile values (uptime, timestamps, ruids, call-ids).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LAB_DIR,
  LAB_RECORDED,
  createMysqlTestDatabase,
  kamailioMissing,
  kamailioSchemaSql,
  startKamailio,
  stopAllKamailio,
  subscriberHashes,
  type KamailioInstance,
} from '../test/helpers/kamailio.js';

const DOMAIN = '127.0.0.1';
/** the lab's subscribers (kamctl add: plaintext password, ha1, ha1b) and their sipsak contact ports */
const USERS = [
  { user: '61312341234', password: 'supersecretpassword', port: 5091 },
  { user: '1001', password: 'pass1001', port: 5092 },
  { user: '1002', password: 'pass1002', port: 5093 },
];
const SCHEMA_TABLES = ['subscriber', 'address', 'location', 'version', 'htable'];

function out(what: string): void {
  process.stderr.write(`[record-kamailio] ${what}\n`);
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The module lists `kamdbctl create` uses (from Debian's kamdbctl.base), standard first. */
function kamdbctlModules(): string[] {
  const base = ['/usr/lib/x86_64-linux-gnu/kamailio/kamctl/kamdbctl.base', '/usr/lib/aarch64-linux-gnu/kamailio/kamctl/kamdbctl.base', '/usr/lib/kamailio/kamctl/kamdbctl.base']
    .map((p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } })
    .find((t) => t !== undefined);
  if (base === undefined) throw new Error('kamdbctl.base not found (package kamailio)');
  const list = (name: string) => {
    const m = new RegExp(`${name}=\\$\\{\\w+:-'([^']*)'\\}`).exec(base);
    if (!m) throw new Error(`kamdbctl.base: no ${name}`);
    return m[1].split(/\s+/).filter(Boolean);
  };
  // the lab's kamctlrc installs the extra, presence and uid tables too
  return [...list('STANDARD_MODULES'), ...list('PRESENCE_MODULES'), ...list('EXTRA_MODULES'), ...list('DBUID_MODULES')];
}

/** Each recorded HTTP response's Content-Length set to its body's bytes (identity on the lab's recording). */
function fixContentLength(text: string): string {
  return text.replace(
    /(HTTP\/1\.1 [^\n]*\n(?:[^\n]+\n)*?)Content-Length: \d+\n((?:[^\n]+\n)*)\n([^]*?)\n--- curl exit:/g,
    (_m, pre: string, rest: string, body: string) => `${pre}Content-Length: ${Buffer.byteLength(body)}\n${rest}\n${body}\n--- curl exit:`,
  );
}

async function main(): Promise<void> {
  const missing = kamailioMissing();
  if (missing) throw new Error(missing);
  const db = await createMysqlTestDatabase('record_kamailio');
  const work = mkdtempSync(join(tmpdir(), 'sipctl-record-'));
  let k: KamailioInstance | undefined;
  try {
    const mysqlRoot = (sql: string, opts: { vertical?: boolean } = {}) => run('mysql', ['-uroot', ...(opts.vertical ? [] : ['--batch']), db.name, '-e', sql]);
    out(`database ${db.name}: kamdbctl's tables`);
    const modules = kamdbctlModules();
    const available = modules.filter((m) => {
      try {
        readFileSync(`/usr/share/kamailio/mysql/${m}-create.sql`);
        return true;
      } catch {
        return false;
      }
    });
    run('mysql', ['-uroot', db.name], { input: await kamailioSchemaSql('mysql', available) });

    const recorded: Record<string, string> = {};
    // as kamdbctl left it: before any row (SHOW CREATE TABLE would show AUTO_INCREMENT)
    out('schema');
    const schema: string[] = [];
    for (const t of SCHEMA_TABLES) schema.push(`===== SHOW CREATE TABLE ${t}\n${mysqlRoot(`SHOW CREATE TABLE ${t}\\G`, { vertical: true })}`);
    schema.push(`===== SELECT * FROM version\n${mysqlRoot('SELECT * FROM version')}`);
    schema.push(`===== SHOW TABLES\n${mysqlRoot('SHOW TABLES').replace(/^Tables_in_\S+/, 'Tables_in_kamailio')}`);
    // kamdbctl's own users (kamailio, kamailioro) are not created here: their GRANTS stay as recorded in the lab
    const grants = /^===== GRANTS\n[^]*$/m.exec(readFileSync(join(LAB_RECORDED, 'db_schema.txt'), 'utf8'))?.[0] ?? '';
    recorded['db_schema.txt'] = schema.join('') + grants;

    out('subscribers, the carrier address, 1,000 sipp subscribers');
    const rows = USERS.map((u) => {
      const { ha1, ha1b } = subscriberHashes(u.user, DOMAIN, u.password);
      return `('${u.user}','${DOMAIN}','${u.password}','${ha1}','${ha1b}')`;
    });
    mysqlRoot(`INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ${rows.join(',')}`);
    mysqlRoot("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (200, '10.0.1.102', 32, 5060, 'Carrier IP address')");
    run('mysql', ['-uroot', db.name], { input: readFileSync(join(LAB_DIR, 'sipp', 'provision_1000.sql'), 'utf8') });

    // free ports (5060/5071 may be another proxy's, whose answer would pass for this one's);
    // the recordings are written back with the lab's ports
    k = await startKamailio({ dbUrl: db.url, children: 8 });
    out(`Kamailio on SIP ${k.sipPort}, HTTP ${k.httpPort}`);
    for (const u of USERS) {
      run('sipsak', ['-i', '-U', '-C', `sip:${u.user}@${DOMAIN}:${u.port}`, '-s', `sip:${u.user}@${DOMAIN}:${k.sipPort}`, '-a', u.password, '-x', '3600']);
    }
    // as in the lab, after usrloc's timer (db_mode 2, every 60 s) has written them: State CS_SYNC
    out('waiting for usrloc to write the contacts (up to 90 s)');
    for (let i = 0; i < 90 && /CS_NEW/.test(run('kamcmd', ['-s', k.ctlAddress, 'ul.dump'])); i++) await new Promise((r) => setTimeout(r, 1000));

    // the lab's recorders, pointed at this instance
    mkdirSync(join(work, 'outputs'));
    const point = (text: string) =>
      text
        .replaceAll('http://127.0.0.1:5071', `http://127.0.0.1:${k!.httpPort}`)
        .replaceAll('http://127.0.0.1:5060', `http://127.0.0.1:${k!.sipPort}`)
        .replaceAll('/run/kamailio/kamailio_rpc.fifo', k!.fifoPath)
        .replaceAll('/run/kamailio/kamailio_rpc.sock', k!.dgramPath)
        .replace(/^kamcmd /gm, `kamcmd -s ${k!.ctlAddress} `);
    for (const script of ['jsonrpc_http.sh', 'jsonrpc_fifo.sh', 'jsonrpc_dgram.py']) {
      out(`running ${script}`);
      writeFileSync(join(work, script), point(readFileSync(join(LAB_RECORDED, script), 'utf8')));
      run(script.endsWith('.py') ? 'python3' : 'bash', [script], { cwd: work });
    }
    const back = (text: string) =>
      text
        .replaceAll(`127.0.0.1:${k!.httpPort}`, '127.0.0.1:5071')
        .replaceAll(`127.0.0.1:${k!.sipPort}`, '127.0.0.1:5060')
        .replaceAll(k!.fifoPath, '/run/kamailio/kamailio_rpc.fifo')
        .replaceAll(k!.dgramPath, '/run/kamailio/kamailio_rpc.sock')
        .replaceAll(`HTTP not served on port ${k!.sipPort}`, 'HTTP not served on port 5060');
    for (const f of ['jsonrpc_http.txt', 'jsonrpc_fifo.txt', 'jsonrpc_dgram.txt']) recorded[f] = back(readFileSync(join(work, 'outputs', f), 'utf8'));
    // a body that named the instance's port names 5060 now: its Content-Length follows, so replays stay exact
    recorded['jsonrpc_http.txt'] = fixContentLength(recorded['jsonrpc_http.txt']);

    // usrloc db_mode 2 writes the location table on its timer and when Kamailio stops
    out('stopping Kamailio (usrloc writes back), location rows');
    await k.stop();
    const who = '"61312341234","1001","sipp0001"';
    recorded['db_location_rows.txt'] = back(
      `$ SELECT COUNT(*) FROM location\n${mysqlRoot('SELECT COUNT(*) FROM location')}` +
        `$ SELECT * FROM location WHERE username IN (${who})\\G\n${mysqlRoot(`SELECT * FROM location WHERE username IN (${who})\\G`, { vertical: true })}`,
    );

    for (const [f, text] of Object.entries(recorded)) {
      writeFileSync(join(LAB_RECORDED, f), text);
      out(`wrote test/fixtures/kamailio/recorded/${f}`);
    }
  } finally {
    await stopAllKamailio();
    await db.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`record-kamailio: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
