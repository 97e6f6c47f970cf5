// The shipped oclif manifest, man pages and README reference must match the code (built dist/).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO } from '../../helpers/cli.js';

test('oclif.manifest.json is fresh (regenerated from dist/ it is identical)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-manifest-'));
  try {
    copyFileSync(join(REPO, 'package.json'), join(dir, 'package.json'));
    cpSync(join(REPO, 'dist'), join(dir, 'dist'), { recursive: true }); // a copy: a link changes relativePath
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest'], { cwd: dir, stdio: 'pipe' });
    const fresh = JSON.parse(readFileSync(join(dir, 'oclif.manifest.json'), 'utf8'));
    const shipped = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8'));
    assert.deepEqual(shipped, fresh, 'run `npm run docs` and commit the result');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('man pages and README command reference are generated from the current metadata', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'gen-docs.js'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('sipctl.8 documents every command and every exit code', () => {
  const man = readFileSync(join(REPO, 'man', 'sipctl.8'), 'utf8');
  const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8'));
  for (const c of Object.values<{ id: string; pluginName: string }>(manifest.commands)) {
    if (c.pluginName !== 'sipctl') continue;
    assert.ok(man.includes(`.SS "${c.id.replace(/:/g, ' ').replace(/-/g, '\\-')}"`), `man page lacks ${c.id}`);
  }
  for (let code = 0; code <= 10; code++) assert.ok(man.includes(`.B ${code}\n`), `exit code ${code} undocumented`);
});
