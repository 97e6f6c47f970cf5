#!/usr/bin/env -S node --min-semi-space-size=16
// sipd, the SIP proxy daemon. Runs the built sources in dist/ (`npm run build` first).
// The shebang gives V8 a young-generation floor (SIPD_NODE_FLAGS in src/core/daemon/node-flags.ts, which
// says why): a start-up option that NODE_OPTIONS refuses, so `sipd` and the systemd unit get it
// here; `node bin/sipd.js` runs without it unless given on that command line.
let mod;
try {
  mod = await import('../dist/daemon/main.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/daemon/main.js')) {
    process.stderr.write('sipd: not built (dist/daemon/main.js is missing); run `npm run build` first\n');
    process.exit(1);
  }
  throw e;
}
await mod.main();
