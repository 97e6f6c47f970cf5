#!/usr/bin/env node
// sipd, the SIP proxy daemon. Runs the built sources in dist/ (`npm run build` first).
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
