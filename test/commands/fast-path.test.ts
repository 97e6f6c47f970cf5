/**
 * Issue 15: the launcher's fast path (src/cli/fast-path.ts) runs a command oclif.manifest.json
 * names without loading oclif's config, plugins and help. It must not change anything a user sees:
 * the same argv gives the same stdout, stderr and exit code with and without it
 * (SIPCTL_NO_FAST_PATH=1 sends every run through full oclif), and everything it does not handle
 * (help, unknown words, topics, aliases, hooks, user plugins, DEBUG) goes to oclif.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fastPlan } from '../../src/cli/fast-path.js';
import { REPO, isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const MANIFEST = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { id: string; aliases?: string[]; hidden?: boolean; state?: string }> };

/** A preload that records the files a run reads with fs.promises.readFile (what oclif's Config.load uses). */
const work = mkdtempSync(join(tmpdir(), 'sipctl-fast-path-'));
const PRELOAD = join(work, 'trace-reads.cjs');
writeFileSync(
  PRELOAD,
  `const fsp = require('node:fs/promises'); const { appendFileSync } = require('node:fs'); const orig = fsp.readFile;
fsp.readFile = function (p, ...rest) { if (process.env.TRACE_READS) appendFileSync(process.env.TRACE_READS, String(p) + '\\n'); return orig.call(this, p, ...rest); };\n`,
);
after(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<RunResult & { reads: string[] }> {
  const trace = join(work, `reads-${Math.random().toString(36).slice(2)}`);
  writeFileSync(trace, '');
  try {
    const r = await runSipctl(args, { env: { ...env, TRACE_READS: trace }, input, nodeArgs: ['-r', PRELOAD] });
    return { ...r, reads: readFileSync(trace, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(trace, { force: true });
  }
}

/** Full oclif reads oclif.manifest.json (Config.load); the fast path does not. */
const oclifLoaded = (r: { reads: string[] }) => r.reads.some((p) => p.endsWith('oclif.manifest.json'));

describe('fastPlan: which argv runs without oclif (decided from the manifest and package.json)', () => {
  const env = isolatedEnv();
  after(() => rmSync(env.HOME!, { recursive: true, force: true }));

  test('every command in oclif.manifest.json, typed as words, runs on the fast path; aliases and deprecated ones do not', () => {
    const aliases = new Set(Object.values(MANIFEST.commands).flatMap((c) => c.aliases ?? []));
    for (const c of Object.values(MANIFEST.commands)) {
      const plan = fastPlan(REPO, c.id.split(':'), env);
      if (aliases.has(c.id) || c.state === 'deprecated') assert.equal(plan, undefined, c.id);
      else assert.equal(plan?.id, c.id, c.id);
    }
  });

  test('command words and the rest: htable dump ipban -f x → htable:dump with [ipban, -f, x]', () => {
    const plan = fastPlan(REPO, ['htable', 'dump', 'ipban', '-f', 'x'], env);
    assert.equal(plan?.id, 'htable:dump');
    assert.deepEqual(plan?.argv, ['ipban', '-f', 'x']);
    assert.ok(plan?.file.endsWith(join('dist', 'commands', 'htable', 'dump.js')));
    assert.equal(plan?.config.bin, 'sipctl');
    assert.match(plan!.config.userAgent, /^sipctl\/\d+\.\d+\.\d+ \S+-\S+ node-v/);
  });

  test('to full oclif: no argv, help, version, topics, unknown words, colon ids, plugin commands, DEBUG, OCLIF_*, SIPCTL_NO_FAST_PATH, oclif dirs', () => {
    const cases: Array<[string[], NodeJS.ProcessEnv?]> = [
      [[]],
      [['--help']],
      [['--version']],
      [['show', '--help']],
      [['htable']],
      [['htabel', 'dump']],
      [['nosuchcommand']],
      [['htable:dump', 'ipban']],
      [['autocomplete']],
      [['show'], { ...env, DEBUG: 'sipctl' }],
      [['show'], { ...env, OCLIF_PERFORMANCE: '1' }],
      [['show'], { ...env, SIPCTL_NO_FAST_PATH: '1' }],
      [['show'], { ...env, SIPCTL_DATA_DIR: '/nonexistent' }],
      [['show'], { ...env, SIPCTL_CONFIG_DIR: '/nonexistent' }],
    ];
    for (const [argv, e] of cases) assert.equal(fastPlan(REPO, argv, e ?? env), undefined, JSON.stringify(argv));
    // `show -- --help`: --help after -- is an argument, not help.
    assert.equal(fastPlan(REPO, ['show', '--', '--help'], env)?.id, 'show');
  });

  test('a copy of the package whose node_modules is further up the tree (as bench/out/ copies are): the plugins are found there', () => {
    const top = mkdtempSync(join(tmpdir(), 'sipctl-fast-path-copy-'));
    try {
      const pkg = join(top, 'copy');
      mkdirSync(pkg);
      for (const f of ['package.json', 'oclif.manifest.json']) writeFileSync(join(pkg, f), readFileSync(join(REPO, f)));
      symlinkSync(join(REPO, 'node_modules'), join(top, 'node_modules'));
      assert.equal(fastPlan(pkg, ['htable', 'dump', 'ipban'], env)?.id, 'htable:dump');
      rmSync(join(top, 'node_modules'));
      assert.equal(fastPlan(pkg, ['htable', 'dump', 'ipban'], env), undefined, 'no plugin to be found: full oclif decides');
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });

  test('user plugins (<data dir>/sipctl/package.json) or a theme (<config dir>/sipctl/theme.json): full oclif', () => {
    const home = mkdtempSync(join(tmpdir(), 'sipctl-fast-path-home-'));
    try {
      const e = { ...env, HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CONFIG_HOME: join(home, 'config') };
      assert.equal(fastPlan(REPO, ['show'], e)?.id, 'show');
      mkdirSync(join(home, 'data', 'sipctl'), { recursive: true });
      writeFileSync(join(home, 'data', 'sipctl', 'package.json'), '{"oclif":{"plugins":[]}}');
      assert.equal(fastPlan(REPO, ['show'], e), undefined);
      rmSync(join(home, 'data'), { recursive: true });
      mkdirSync(join(home, 'config', 'sipctl'), { recursive: true });
      writeFileSync(join(home, 'config', 'sipctl', 'theme.json'), '{}');
      assert.equal(fastPlan(REPO, ['show'], e), undefined);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('fast path and full oclif give the same output and exit code (built CLI, SQLite)', () => {
  let t: TestDb;
  const env = isolatedEnv({ NO_COLOR: '1', SIPCTL_DOMAIN: 'example.com' });
  before(async () => {
    t = await createTestDb('sqlite');
    env.SIPCTL_DB = t.url;
    const r = await run(['add', 'alice', 'supersecretpassword1'], env);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await t?.drop();
    rmSync(env.HOME!, { recursive: true, force: true });
  });

  const CASES: string[][] = [
    ['show', 'alice'],
    ['show', 'alice', '--json'],
    ['show'],
    ['show', 'nobody'],
    ['show', 'nobody', '--json'],
    ['show', '--bogus'],
    ['show', '--bogus', '--json'],
    ['subscriber', 'list'],
    ['subscriber', 'list', '--json', '--limit', 'x'],
    ['add', 'alice', 'supersecretpassword1'],
    ['add', 'alice', 'supersecretpassword1', '--json'],
    ['rm', 'alice'],
    ['--json', 'show', 'alice'],
    ['--db', 'sqlite:///nonexistent/dir/x.db', 'show', 'alice'],
    ['htable', 'dump', 'ipban', '--rpc', 'http://127.0.0.1:1/RPC'],
    ['htable', 'dump', 'ipban', '--rpc', 'http://127.0.0.1:1/RPC', '--json'],
    ['htable', 'dump', '--rpc', 'http://127.0.0.1:1/RPC'],
    ['version', '--rpc', 'http://127.0.0.1:1/RPC'],
    ['sim', 'opc', '--k', '00112233445566778899aabbccddeeff', '--op', 'cdc202d5123e20f62b6d676ac72cb318', '--json'],
    ['show', 'alice', 'extra', 'words'],
  ];
  for (const args of CASES) {
    test(`sipctl ${args.join(' ')}`, async () => {
      const fast = await run(args, env);
      const full = await run(args, { ...env, SIPCTL_NO_FAST_PATH: '1' });
      assert.ok(!oclifLoaded(fast), `fast path taken (no oclif Config.load): ${fast.reads.join(', ')}`);
      assert.ok(oclifLoaded(full), 'SIPCTL_NO_FAST_PATH=1 runs full oclif');
      assert.equal(fast.code, full.code, `exit code\nfast: ${fast.stderr}\nfull: ${full.stderr}`);
      assert.equal(fast.stdout, full.stdout, 'stdout');
      assert.equal(fast.stderr, full.stderr, 'stderr');
    });
  }

  test('help and unknown commands still go through oclif (same output as before)', async () => {
    for (const args of [['show', '--help'], ['htabel', 'dump'], ['htable'], []]) {
      const r = await run(args, env);
      assert.ok(oclifLoaded(r), `oclif for ${args.join(' ')}`);
    }
  });
});
