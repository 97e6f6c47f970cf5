#!/usr/bin/env node
// Second half of `npm run build`, after tsc: bundles what `sipctl` runs with esbuild, one entry per
// command (found by glob, so a new src/commands file is picked up without a list to edit), the
// oclif hooks and the launcher's entry (dist/cli/main.js), with the code they share split into
// dist/chunks/. A command then loads a handful of files instead of several hundred modules.
//
// The entries are written over tsc's dist/commands/**.js (and dist/cli/main.js, dist/cli/hooks/),
// so package.json's oclif settings and oclif.manifest.json's paths stay what they were. The rest of
// dist/ stays tsc's: it is the library (package.json "exports") and sipd.
// Left external: native addons (loaded from node_modules as before), the TypeScript compiler that
// oclif can require for ts-node set-ups, and the autocomplete plugin (oclif loads plugins by package).
// dist/chunks/BUNDLE.json is written last: test/helpers/build.ts compares dist/ against its time.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const CHUNKS = join(DIST, 'chunks');

function jsFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...jsFiles(p));
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

const entryPoints = [...jsFiles(join(DIST, 'commands')), ...jsFiles(join(DIST, 'cli', 'hooks')), join(DIST, 'cli', 'main.js')];

const result = await build({
  absWorkingDir: ROOT,
  entryPoints,
  outbase: DIST,
  outdir: DIST,
  write: false,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS packages bundled into ESM still call require() for node: built-ins.
  banner: { js: "import { createRequire as __sipctlCreateRequire } from 'node:module'; const require = __sipctlCreateRequire(import.meta.url);" },
  external: ['better-sqlite3', 'unix-dgram', 'typescript', '@oclif/plugin-autocomplete'],
  // Smaller files parse faster; names are kept because error classes and oclif read them.
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// Written only now that esbuild has read every input: the entries replace their own sources.
rmSync(CHUNKS, { recursive: true, force: true });
for (const f of result.outputFiles) {
  mkdirSync(dirname(f.path), { recursive: true });
  writeFileSync(f.path, f.contents);
}
const entries = entryPoints.map((p) => relative(DIST, p)).sort();
writeFileSync(join(CHUNKS, 'BUNDLE.json'), JSON.stringify({ tool: 'scripts/bundle.mjs', entries }, null, 1) + '\n');
console.log(`bundle: ${entries.length} entries, ${result.outputFiles.length - entries.length} chunks in ${relative(ROOT, CHUNKS)}/`);
