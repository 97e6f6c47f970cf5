#!/usr/bin/env node
// Third step of `npm run build`, after tsc and scripts/bundle.mjs: builds the web console that
// `sipctl web` serves (src/core/web) from web/ into dist/web/:
//   index.html  web/index.html as it is (no inline script or style: the server's CSP forbids them)
//   app.js      web/src/main.tsx with Preact and uPlot, bundled and minified by esbuild (one file)
//   app.css     web/src/app.css and uPlot's stylesheet, bundled
// Fixed names: index.html refers to /assets/app.js and /assets/app.css. Nothing is fetched from
// elsewhere at run time (no CDN); every dependency is bundled here at build time.
// dist/web/BUILD.json is written last: tests compare its time with web/'s files (a stale console fails).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'web');
const OUT = join(ROOT, 'dist', 'web');

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { app: join(SRC, 'src', 'main.tsx') },
  outdir: OUT,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(SRC, 'tsconfig.json'),
  loader: { '.css': 'css' },
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(SRC, 'index.html'), join(OUT, 'index.html'));

const sizes = Object.entries(result.metafile.outputs).map(([f, o]) => `${relative(OUT, join(ROOT, f))} ${(o.bytes / 1024).toFixed(1)} KiB`);
writeFileSync(join(OUT, 'BUILD.json'), JSON.stringify({ tool: 'scripts/build-web.mjs', files: readdirSync(OUT).sort() }, null, 1) + '\n');
console.log(`build-web: dist/web/ index.html, ${sizes.join(', ')}`);
