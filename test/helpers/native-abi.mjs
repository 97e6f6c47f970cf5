// Loaded with `node --import` by scripts/test-node-versions.sh (the tests under Node 22 and 24,
// which scripts/test.sh runs) and by bench/sipd-variants.ts (sipd under those Nodes in the
// benches), never by sipd or sipctl themselves: under a Node.js whose ABI
// differs from the one node_modules' native addons were built for (Node 22 or 24 from the npm
// registry, while npm ci ran under Debian's Node 20), `better-sqlite3` and `unix-dgram` resolve
// to copies rebuilt for this Node in $SIPCTL_TEST_NATIVE_DIR (a node_modules folder under
// .cache/node/<version>/). Nothing else changes: every other package is the same as under Node 20.
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.SIPCTL_TEST_NATIVE_DIR;
if (dir === undefined || dir === '') throw new Error('native-abi.mjs: SIPCTL_TEST_NATIVE_DIR is not set');
const NATIVE = { 'better-sqlite3': 'lib/index.js', 'unix-dgram': 'lib/unix_dgram.js' };
const targets = new Map();
for (const [name, main] of Object.entries(NATIVE)) {
  const file = join(dir, name, main);
  if (!existsSync(file)) throw new Error(`native-abi.mjs: ${file} is missing (scripts/test-node-versions.sh builds it)`);
  targets.set(name, pathToFileURL(file).href);
}
registerHooks({
  resolve(specifier, context, next) {
    const url = targets.get(specifier);
    if (url !== undefined) return { url, format: 'commonjs', shortCircuit: true };
    return next(specifier, context);
  },
});
