#!/usr/bin/env node
// sipctl runs from the bundle `npm run build` writes into dist/ (scripts/bundle.mjs).
// A CommonJS script (issue 15): Node starts an ES-module entry point through its ESM loader,
// ~5 ms more CPU per run than a script (measured: bench/RESULTS.md).
'use strict';
// V8's compile cache where the running Node has it (22.8+). On Node 20 there is none to enable, and
// node:module would load Node's ES-module loader for nothing: the CommonJS loader is module's class.
if (Number(process.versions.node.split('.')[0]) >= 22) require('node:module').enableCompileCache?.();
const Module = module.constructor;

// sipctl's own ES modules by require() too (below): Node >= 20.19 reads an ES module synchronously
// that way, without a thread-pool round trip per file, which on a busy machine waits for a time
// slice each. argv.js has a CommonJS copy (scripts/bundle.mjs), which spares starting Node's
// ES-module loader on the fast path and for --version.
const { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { platform, arch, release, tmpdir } = require('node:os');
const { dirname, isAbsolute, join, relative, resolve } = require('node:path');
const { pathToFileURL } = require('node:url');
const argvCjs = join(__dirname, '..', 'dist', 'cjs', 'cli', 'argv.cjs');
const { normaliseArgv } = require(existsSync(argvCjs) ? argvCjs : '../dist/cli/argv.js');

/**
 * The fast path's files as scripts (issue 15): scripts/bundle.mjs writes every bundle file a second
 * time as CommonJS into dist/cjs/. Compiling the ES modules was the largest part of a command's
 * start-up, and Node 20 keeps no compile cache; V8's code cache (vm.Script cachedData) is for
 * scripts. So the fast path loads the .cjs files itself, each compiled with the code V8 produced
 * for it on an earlier run, and, when there was none (or V8 refused it: another Node, other V8
 * flags), writes that code at exit. The cache is one file per bundle file in a directory only this
 * user can write (<tmpdir>/sipctl-v8-cache-<uid>, mode 0700, checked before use), keyed by the
 * copy's path, the Node version and the bundle file's size, mtime and inode; written whole, then renamed into
 * place. NODE_DISABLE_COMPILE_CACHE (Node's own switch) turns it off; the files still load as
 * scripts. Undefined without dist/cjs/ (then the ES modules, as before).
 */
function scriptLoader(root) {
  const base = join(root, 'dist', 'cjs');
  if (!existsSync(join(base, 'cli', 'fast-path.cjs'))) return undefined;
  const vm = require('node:vm');
  const dir = process.env.NODE_DISABLE_COMPILE_CACHE ? undefined : cacheDir();
  // One set of cache files per installed copy and Node version (FNV-1a of both), so they do not take turns.
  const id = `${root}\0${process.version}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  const tag = h.toString(16).padStart(8, '0');
  const modules = new Map();
  const fresh = [];
  const load = (file) => {
    const known = modules.get(file);
    if (known) return known.exports;
    const src = readFileSync(file, 'utf8');
    const mod = { exports: {}, filename: file };
    modules.set(file, mod);
    // Sibling .cjs files through this loader (one instance of each, like require's cache); built-ins
    // through this file's require (the same module wherever it is asked for); packages through a
    // require of the file's own, made when the file first asks for one (a bundle file asks for
    // node:url, node:fs, events… 80 times a run, a package seldom: making it for each of some 30
    // files was 1-2 ms of resolving paths).
    let own;
    const ownRequire = () => (own ??= Module.createRequire(file));
    const req = (id) =>
      id.endsWith('.cjs') && (id.startsWith('.') || isAbsolute(id)) ? load(resolve(dirname(file), id)) : Module.isBuiltin(id) ? require(id) : ownRequire()(id);
    req.resolve = (request, options) => ownRequire().resolve(request, options);
    req.resolve.paths = (request) => ownRequire().resolve.paths(request);
    req.cache = require.cache;
    let cachedData;
    let cacheFile;
    let key;
    if (dir) {
      const st = statSync(file);
      key = `${process.version} ${process.arch} ${st.size} ${st.mtimeMs} ${st.ino}`;
      cacheFile = join(dir, `${tag}-${relative(base, file).replaceAll('/', '__')}.v8`);
      try {
        const buf = readFileSync(cacheFile);
        const nl = buf.indexOf(10);
        if (nl > 0 && buf.toString('latin1', 0, nl) === key) cachedData = buf.subarray(nl + 1);
      } catch {
        // no cache yet
      }
    }
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${src}\n})`, { filename: file, cachedData });
    if (cacheFile && (!cachedData || script.cachedDataRejected)) fresh.push({ script, cacheFile, key });
    script.runInThisContext()(mod.exports, req, mod, file, dirname(file));
    return mod.exports;
  };
  // At exit the scripts hold the code of every function this run compiled.
  if (dir)
    process.on('exit', () => {
      for (const { script, cacheFile, key } of fresh) {
        try {
          const tmp = `${cacheFile}.${process.pid}.tmp`;
          writeFileSync(tmp, Buffer.concat([Buffer.from(key + '\n', 'latin1'), script.createCachedData()]), { mode: 0o600 });
          renameSync(tmp, cacheFile);
        } catch {
          // a cache not written is only slower next time
        }
      }
    });
  return { load, file: (esm) => join(base, relative(join(root, 'dist'), esm)).replace(/\.js$/, '.cjs') };
}

/** This user's private cache directory, or undefined when it is not (another owner, group/other access, a link). */
function cacheDir() {
  try {
    const uid = process.getuid?.();
    if (uid === undefined) return undefined;
    const dir = join(tmpdir(), `sipctl-v8-cache-${uid}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if (e?.code !== 'EEXIST') return undefined;
    }
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

// Global flags before the command, `help X`, -h and -v: see src/cli/argv.ts.
const argv = normaliseArgv(process.argv.slice(2));
if (argv[0] === '--version') {
  // What oclif prints for --version (its config.userAgent), without loading oclif for one line.
  const { name, version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  const os = platform() === 'linux' && /microsoft/i.test(release()) ? 'wsl' : platform();
  process.stdout.write(`${name}/${version} ${os}-${arch() === 'ia32' ? 'x86' : arch()} node-${process.version}\n`);
} else {
  run().catch((e) => {
    // What an unhandled rejection of the ES-module launcher's top-level await did.
    process.nextTick(() => {
      throw e;
    });
  });
}

async function run() {
  // oclif's own check of its engine range loads semver (47 modules) on every run; package.json's
  // engines field is what npm checks for sipctl.
  process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';
  // A command oclif.manifest.json names runs without loading oclif's config, plugins and help
  // (src/cli/fast-path.ts decides, from the manifest and package.json); the rest goes to oclif.
  const root = resolve(__dirname, '..');
  const scripts = scriptLoader(root);
  let fast;
  if (scripts) fast = scripts.load(join(root, 'dist', 'cjs', 'cli', 'fast-path.cjs'));
  else {
    try {
      fast = require('../dist/cli/fast-path.js');
    } catch (e) {
      if (e?.code !== 'ERR_REQUIRE_ESM') throw e;
      fast = await import('../dist/cli/fast-path.js');
    }
  }
  const { fastPlan, fastRun } = fast;
  const plan = fastPlan(root, argv);
  if (!plan || !(await (scripts ? fastRun(plan, (file) => scripts.load(scripts.file(file))) : fastRun(plan)))) {
    const { main } = await import('../dist/cli/main.js');
    await main(pathToFileURL(__filename).href, argv);
  }
}
