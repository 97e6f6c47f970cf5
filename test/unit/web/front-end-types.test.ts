// The web console's front end (web/) is bundled by esbuild, which strips types without checking
// them; this runs the type check `npm run lint` does for it, so a type error in a page fails CI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

test('web/ type-checks under its own tsconfig (strict, DOM, Preact JSX)', () => {
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'web', 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc -p web/tsconfig.json failed:\n${r.stdout}${r.stderr}`);
});
