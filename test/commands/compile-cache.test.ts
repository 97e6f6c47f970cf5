/**
 * Issue 15: the launcher runs the fast path from dist/cjs/ (the bundle as CommonJS scripts) with
 * V8's code cache kept in <tmpdir>/sipctl-v8-cache-<uid> (bin/run.cjs, scriptLoader). The cache may
 * make a run faster, never different: the output with a cold cache, a warm one, a damaged one, a
 * directory others can write to (not used) and with the cache turned off is the same as full
 * oclif's. TMPDIR points each case at a directory of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const work = mkdtempSync(join(tmpdir(), 'sipctl-v8-cache-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const uid = process.getuid!();
/** A fresh TMPDIR and the cache directory the launcher would use under it. */
function tmp(name: string): { TMPDIR: string; cache: string } {
  const TMPDIR = join(work, name);
  mkdirSync(TMPDIR);
  return { TMPDIR, cache: join(TMPDIR, `sipctl-v8-cache-${uid}`) };
}
const cacheFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8')).sort() : []);

describe('fast path from dist/cjs with the V8 code cache (built CLI, SQLite)', () => {
  let t: TestDb;
  const env = isolatedEnv({ NO_COLOR: '1', SIPCTL_DOMAIN: 'example.com' });
  const CASES = [['show', 'alice'], ['show', 'alice', '--json'], ['show', 'nobody'], ['show', '--bogus']];
  const expected = new Map<string, { code: number; stdout: string; stderr: string }>();
  before(async () => {
    t = await createTestDb('sqlite');
    env.SIPCTL_DB = t.url;
    const r = await runSipctl(['add', 'alice', 'supersecretpassword1'], { env });
    assert.equal(r.code, 0, r.stderr);
    for (const args of CASES) expected.set(args.join(' '), await runSipctl(args, { env: { ...env, SIPCTL_NO_FAST_PATH: '1' } }));
  });
  after(async () => {
    await t?.drop();
    rmSync(env.HOME!, { recursive: true, force: true });
  });
  const same = async (args: string[], extra: NodeJS.ProcessEnv, what: string) => {
    const r = await runSipctl(args, { env: { ...env, ...extra } });
    assert.deepEqual(r, expected.get(args.join(' ')), `${what}: sipctl ${args.join(' ')} as full oclif`);
  };

  test('a cold cache is written (0700 directory, 0600 files), a warm one is used as it is, output as full oclif each time', async () => {
    const { TMPDIR, cache } = tmp('cold-warm');
    for (const args of CASES) await same(args, { TMPDIR }, 'cold');
    const files = cacheFiles(cache);
    assert.ok(files.some((f) => f.includes('fast-path.cjs')) && files.some((f) => f.includes('commands__show.cjs')), `cache files: ${files.join(', ')}`);
    assert.equal(statSync(cache).mode & 0o777, 0o700);
    for (const f of files) assert.equal(statSync(join(cache, f)).mode & 0o777, 0o600, f);
    const mtimes = files.map((f) => statSync(join(cache, f)).mtimeMs);
    for (const args of CASES) await same(args, { TMPDIR }, 'warm');
    assert.deepEqual(cacheFiles(cache), files, 'no new cache files');
    assert.deepEqual(files.map((f) => statSync(join(cache, f)).mtimeMs), mtimes, 'V8 took every cache file as it was (none rewritten)');
  });

  test('a damaged cache file is refused by V8 and written again; output as full oclif', async () => {
    const { TMPDIR, cache } = tmp('damaged');
    await same(['show', 'alice'], { TMPDIR }, 'cold');
    const files = cacheFiles(cache);
    for (const f of files) {
      const buf = readFileSync(join(cache, f));
      const nl = buf.indexOf(10);
      // The right key, then bytes that are no code cache.
      writeFileSync(join(cache, f), Buffer.concat([buf.subarray(0, nl + 1), Buffer.alloc(Math.max(64, buf.length - nl - 1), 0x5a)]));
    }
    await same(['show', 'alice'], { TMPDIR }, 'damaged cache');
    for (const f of files) assert.notEqual(readFileSync(join(cache, f))[readFileSync(join(cache, f)).indexOf(10) + 1], 0x5a, `${f} written again`);
    await same(['show', 'alice', '--json'], { TMPDIR }, 'after the rewrite');
  });

  test('a cache directory others may write to is not used; NODE_DISABLE_COMPILE_CACHE turns the cache off', async () => {
    const open = tmp('open');
    mkdirSync(open.cache, { mode: 0o777 });
    chmodSync(open.cache, 0o777);
    await same(['show', 'alice'], { TMPDIR: open.TMPDIR }, 'open directory');
    assert.deepEqual(cacheFiles(open.cache), [], 'nothing read or written there');
    const off = tmp('off');
    await same(['show', 'alice'], { TMPDIR: off.TMPDIR, NODE_DISABLE_COMPILE_CACHE: '1' }, 'cache off');
    assert.equal(existsSync(off.cache), false, 'no cache directory');
  });
});
