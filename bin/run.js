#!/usr/bin/env node
// sipctl runs from the bundle `npm run build` writes into dist/ (scripts/bundle.mjs).
import module from 'node:module';
import { normaliseArgv } from '../dist/cli/argv.js';

// Built-ins by require(), as in the bundle (scripts/bundle.mjs): an ESM import of node:fs reads all
// its exports, and its ReadStream getter loads Node's whole stream stack.
const require = module.createRequire(import.meta.url);
const { readFileSync } = require('node:fs');
const { platform, arch, release } = require('node:os');
const { fileURLToPath } = require('node:url');

// V8's compile cache where the running Node has it (22.8+); on Node 20 there is none to enable.
module.enableCompileCache?.();

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
  const { fastPlan, fastRun } = await import('../dist/cli/fast-path.js');
  const plan = fastPlan(fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''), argv);
  if (!plan || !(await fastRun(plan))) {
    const { main } = await import('../dist/cli/main.js');
    await main(import.meta.url, argv);
  }
}
