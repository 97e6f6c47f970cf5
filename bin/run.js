#!/usr/bin/env node
// sipctl runs from the bundle `npm run build` writes into dist/ (scripts/bundle.mjs).
import module from 'node:module';

// V8's compile cache where the running Node has it (22.8+); on Node 20 there is none to enable.
module.enableCompileCache?.();

// Built-ins by require(), as in the bundle (scripts/bundle.mjs): an ESM import of node:fs reads all
// its exports, and its ReadStream getter loads Node's whole stream stack. sipctl's own modules by
// require() too (below): Node >= 20.19 reads an ES module synchronously that way, without a
// thread-pool round trip per file, which on a busy machine waits for a time slice each.
const require = module.createRequire(import.meta.url);
const { normaliseArgv } = require('../dist/cli/argv.js');
const { readFileSync } = require('node:fs');
const { platform, arch, release } = require('node:os');
const { fileURLToPath } = require('node:url');

// Global flags before the command, `help X`, -h and -v: see src/cli/argv.ts.
const argv = normaliseArgv(process.argv.slice(2));
if (argv[0] === '--version') {
  // What oclif prints for --version (its config.userAgent), without loading oclif for one line.
  const { name, version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const os = platform() === 'linux' && /microsoft/i.test(release()) ? 'wsl' : platform();
  process.stdout.write(`${name}/${version} ${os}-${arch() === 'ia32' ? 'x86' : arch()} node-${process.version}\n`);
} else {
  // oclif's own check of its engine range loads semver (47 modules) on every run; package.json's
  // engines field is what npm checks for sipctl.
  process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';
  // A command oclif.manifest.json names runs without loading oclif's config, plugins and help
  // (src/cli/fast-path.ts decides, from the manifest and package.json); the rest goes to oclif.
  let fast;
  try {
    fast = require('../dist/cli/fast-path.js');
  } catch (e) {
    if (e?.code !== 'ERR_REQUIRE_ESM') throw e;
    fast = await import('../dist/cli/fast-path.js');
  }
  const { fastPlan, fastRun } = fast;
  const plan = fastPlan(fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''), argv);
  if (!plan || !(await fastRun(plan))) {
    const { main } = await import('../dist/cli/main.js');
    await main(import.meta.url, argv);
  }
}
