// The stale-build check (test/helpers/build.ts) on a throw-away tree: missing, incomplete, older, fresh; then the CLI bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staleBuild } from '../../helpers/build.js';

test('dist/ missing, incomplete, older than a source, then fresh', () => {
  const repo = mkdtempSync(join(tmpdir(), 'sipctl-build-check-'));
  try {
    mkdirSync(join(repo, 'src', 'core'), { recursive: true });
    writeFileSync(join(repo, 'src', 'core', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(repo, 'src', 'core', 'b.ts'), 'export const b = 2;\n');
    writeFileSync(join(repo, 'src', 'types.d.ts'), 'declare const x: number;\n'); // emits nothing
    assert.match(staleBuild(repo)!, /^dist\/ is missing/);

    mkdirSync(join(repo, 'dist', 'core'), { recursive: true });
    writeFileSync(join(repo, 'dist', 'core', 'a.js'), '');
    assert.match(staleBuild(repo)!, /dist\/core\/b\.js not built/);

    writeFileSync(join(repo, 'dist', 'core', 'b.js'), '');
    const past = new Date(Date.UTC(2020, 0, 1));
    utimesSync(join(repo, 'dist', 'core', 'b.js'), past, past);
    assert.match(staleBuild(repo)!, /src\/core\/b\.ts changed after the last build/);

    const now = new Date();
    utimesSync(join(repo, 'dist', 'core', 'b.js'), now, now);
    utimesSync(join(repo, 'src', 'core', 'b.ts'), past, past);
    utimesSync(join(repo, 'src', 'core', 'a.ts'), past, past);
    assert.match(staleBuild(repo)!, /^dist\/ is not bundled \(no dist\/chunks\/BUNDLE\.json\)/);

    // the CLI bundle (scripts/bundle.mjs): its stamp is not older than any dist/ file outside daemon/
    mkdirSync(join(repo, 'dist', 'chunks'), { recursive: true });
    writeFileSync(join(repo, 'dist', 'chunks', 'BUNDLE.json'), '{}');
    utimesSync(join(repo, 'dist', 'chunks', 'BUNDLE.json'), past, past);
    assert.match(staleBuild(repo)!, /dist\/ is not bundled: dist\/core\/\w\.js and 1 more written after the last bundle/);

    utimesSync(join(repo, 'dist', 'chunks', 'BUNDLE.json'), now, now);
    for (const f of ['a.js', 'b.js']) utimesSync(join(repo, 'dist', 'core', f), past, past);
    mkdirSync(join(repo, 'dist', 'daemon'), { recursive: true });
    writeFileSync(join(repo, 'dist', 'daemon', 'main.js'), ''); // sipd is not bundled
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(repo, 'dist', 'daemon', 'main.js'), later, later);
    assert.equal(staleBuild(repo), undefined);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
