// Whole-process wall time of everyday subscriber commands, sipctl beside kamctl in the same run,
// on MariaDB (both tools) and SQLite (sipctl; kamctl's SQLite backend is measured too when it works).
// Run: node --import tsx bench/cli-bench.ts     (needs hyperfine, kamctl, MariaDB)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb } from '../test/helpers/db.js';
import { SIPCTL } from '../test/helpers/cli.js';
import { appendResults, machineLine, median } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);

/** Median ms per named command; with a parameter scan, the median over all scanned runs. */
function hyperfine(cmds: Array<{ name: string; cmd: string }>, env: NodeJS.ProcessEnv, scan = false): Map<string, number> {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-')), 'h.json');
  const mode = scan ? ['-w', '0', '-r', '1', '--parameter-scan', 'i', '1', String(RUNS)] : ['-w', '3', '-r', String(RUNS)];
  execFileSync('hyperfine', ['-N', ...mode, '--export-json', out, ...cmds.flatMap((c) => (scan ? [c.cmd] : ['-n', c.name, c.cmd]))], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const res = JSON.parse(readFileSync(out, 'utf8')) as { results: Array<{ command: string; times: number[] }> };
  const by = new Map<string, number[]>();
  for (const r of res.results) {
    const name = cmds.find((c) => r.command.startsWith(c.name) || r.command.startsWith(c.cmd.split('{')[0]))?.name ?? r.command;
    by.set(name, [...(by.get(name) ?? []), ...r.times]);
  }
  return new Map([...by].map(([k, v]) => [k, median(v) * 1000]));
}

const rows: string[][] = [];
for (const engine of ['sqlite', 'mysql'] as const) {
  const t = await createTestDb(engine);
  try {
    const home = mkdtempSync(join(tmpdir(), 'bench-home-'));
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.data'), SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password ?? '', SIPCTL_DOMAIN: '127.0.0.1' };
    execFileSync(process.execPath, [SIPCTL, 'add', '61312341234', 'supersecretpassword'], { env });
    const cmds = [
      { name: 'sipctl show', cmd: `${process.execPath} ${SIPCTL} show 61312341234` },
      { name: 'sipctl add', cmd: `${process.execPath} ${SIPCTL} add u{i} Bench-pw-{i}x --allow-weak` },
    ];
    let kamctl = false;
    if (engine === 'mysql') {
      // kamctl reads ~/.kamctlrc; its mysql client gets the password via -p (visible in ps: one reason sipctl exists).
      const u = new URL(t.fullUrl);
      writeFileSync(join(home, '.kamctlrc'), `DBENGINE=MYSQL\nDBHOST=127.0.0.1\nDBNAME=${u.pathname.slice(1)}\nDBRWUSER=${u.username}\nDBRWPW="${u.password}"\nDBROUSER=${u.username}\nDBROPW="${u.password}"\nSIP_DOMAIN=127.0.0.1\nCTLENGINE=RPCFIFO\n`);
      cmds.push({ name: 'kamctl show', cmd: 'kamctl show 61312341234' }, { name: 'kamctl add', cmd: 'kamctl add k{i} Bench-pw-{i}x' });
      kamctl = true;
    }
    const show = hyperfine(cmds.filter((c) => c.name.endsWith('show')), env);
    const add = hyperfine(cmds.filter((c) => c.name.endsWith('add')), env, true);
    for (const op of ['show', 'add'] as const) {
      const m = op === 'show' ? show : add;
      const ours = m.get(`sipctl ${op}`)!;
      const ref = kamctl ? m.get(`kamctl ${op}`)! : NaN;
      rows.push([`\`${op}\` (${engine})`, `${ours.toFixed(0)} ms`, kamctl ? `kamctl ${op}: ${ref.toFixed(0)} ms` : 'kamctl: not measured on SQLite', kamctl ? (ours / ref).toFixed(2) : '-']);
    }
  } finally {
    await t.drop();
  }
}

const table = ['| command | sipctl (median) | reference, same run | ratio sipctl/ref |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
console.log(table);
appendResults('CLI start-up and subscriber commands', `${machineLine()}\n\nCommand: \`node --import tsx bench/cli-bench.ts\` (hyperfine -N, ${RUNS} runs; add uses a fresh user per run).\n\n${table}\n`);
