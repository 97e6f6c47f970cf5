#!/usr/bin/env node
// sipctl runs from the bundle `npm run build` writes into dist/ (scripts/bundle.mjs).
import module from 'node:module';
import { readFileSync } from 'node:fs';
import { platform, arch, release } from 'node:os';
import { normaliseArgv } from '../dist/cli/argv.js';

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
  const { main } = await import('../dist/cli/main.js');
  await main(import.meta.url, argv);
}
