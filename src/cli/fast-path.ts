/**
 * The launcher's fast path (issue 15): a command invocation that oclif.manifest.json names runs
 * without oclif's Config.load (package.json and manifest of every plugin, user plugins, theme,
 * hooks) and without its help, plugin and config modules: bin/run.cjs imports only this file, then
 * the command's own bundled entry, and runs the command class the way oclif's Config.runCommand
 * does (`new Command(argv, config)._run()`, then oclif's flush, errors through oclif's handle),
 * with a config object that carries what a command and oclif's Command/parser read from it.
 *
 * Everything else goes to full oclif (src/cli/main.ts), decided from the manifest and package.json,
 * never from a list of commands: no arguments, help (`--help` before `--`), an id given with
 * colons, a word that is no command (the command_not_found hook), an alias, a command a plugin
 * also has, deprecated commands, any hook that would run for a command (init, prerun, preparse,
 * postrun, finally) in sipctl or a core plugin, user plugins, a theme, a manifest of another
 * version, DEBUG, oclif's own environment variables — and SIPCTL_NO_FAST_PATH=1 (what the
 * fast-path test compares against).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { arch, homedir, platform, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ManifestCommand {
  id: string;
  aliases?: string[];
  hiddenAliases?: string[];
  args?: Record<string, unknown>;
  strict?: boolean;
  isESM?: boolean;
  relativePath?: string[];
  state?: string;
  deprecateAliases?: boolean;
}
interface Manifest {
  version: string;
  commands: Record<string, ManifestCommand>;
}
interface OclifSettings {
  bin?: string;
  binAliases?: string[];
  dirname?: string;
  commands?: unknown;
  topicSeparator?: string;
  flexibleTaxonomy?: boolean;
  theme?: unknown;
  jitPlugins?: unknown;
  additionalHelpFlags?: string[];
  additionalVersionFlags?: string[];
  hooks?: Record<string, unknown>;
  plugins?: string[];
  state?: string;
}
interface PackageJson {
  name: string;
  version: string;
  oclif?: OclifSettings;
}

/** Hooks oclif runs around a command (or while parsing it): with any of them, full oclif. */
const COMMAND_HOOKS = ['init', 'prerun', 'preparse', 'postrun', 'finally', 'command_incomplete', 'jit_plugin_not_installed'];
/** oclif's own SIPCTL_* variables read by Config.load. */
const SCOPED_VARS = ['CONFIG_DIR', 'DATA_DIR', 'CACHE_DIR', 'DEBUG', 'DISABLE_THEME', 'BINPATH', 'NPM_REGISTRY'];

export interface FastPlan {
  id: string;
  argv: string[];
  file: string;
  config: FastConfig;
}

/** What oclif's Command, its parser and sipctl's commands read from `this.config`. */
export interface FastConfig {
  root: string;
  name: string;
  version: string;
  pjson: PackageJson & { oclif: OclifSettings };
  bin: string;
  binAliases?: string[];
  dirname: string;
  platform: string;
  arch: string;
  windows: boolean;
  userAgent: string;
  topicSeparator: string;
  flexibleTaxonomy: boolean;
  isSingleCommandCLI: boolean;
  theme: undefined;
  commandIDs: string[];
  findCommand(id: string): ManifestCommand | undefined;
  runHook(event: string, opts?: unknown): Promise<{ successes: never[]; failures: never[] }>;
  scopedEnvVar(k: string): string | undefined;
  scopedEnvVarKey(k: string): string;
  scopedEnvVarKeys(k: string): string[];
  scopedEnvVarTrue(k: string): boolean;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** What the fast path reads of each command in oclif.manifest.json (scripts/bundle.mjs writes the index). */
const INDEX_FIELDS = ['id', 'aliases', 'hiddenAliases', 'args', 'strict', 'isESM', 'relativePath', 'state', 'deprecateAliases'] as const;

/** Only what the fast path reads of a manifest's commands (args reduced to their names). */
export function slimManifest(m: Manifest): Manifest {
  const commands: Record<string, ManifestCommand> = {};
  for (const [id, c] of Object.entries(m.commands)) {
    const slim: Record<string, unknown> = {};
    for (const k of INDEX_FIELDS) if (c[k] !== undefined) slim[k] = k === 'args' ? Object.fromEntries(Object.keys(c.args ?? {}).map((a) => [a, {}])) : c[k];
    commands[id] = slim as unknown as ManifestCommand;
  }
  return { version: m.version, commands };
}

/**
 * oclif.manifest.json's commands. The manifest is large (every flag's help text, 0.6 MB): the
 * build writes their slim form with the manifest's size and modification time
 * (dist/cli/fast-path-index.json), used while both still match the manifest beside it; a manifest
 * written later (npm run docs, an unpacked package) is parsed itself.
 */
function readManifest(root: string): Manifest | undefined {
  const file = join(root, 'oclif.manifest.json');
  const index = readJson<{ size: number; mtimeMs: number; manifest: Manifest }>(join(root, 'dist', 'cli', 'fast-path-index.json'));
  if (index) {
    try {
      const st = statSync(file);
      if (st.size === index.size && st.mtimeMs === index.mtimeMs) return index.manifest;
    } catch {
      return undefined;
    }
  }
  return readJson<Manifest>(file);
}

/** oclif's config.userAgent (and what `sipctl --version` prints). */
export function userAgent(name: string, version: string): string {
  return `${name}/${version} ${oclifPlatform()}-${oclifArch()} node-${process.version}`;
}
function oclifPlatform(): string {
  return platform() === 'linux' && /microsoft/i.test(release()) ? 'wsl' : platform();
}
function oclifArch(): string {
  return arch() === 'ia32' ? 'x86' : arch();
}

function scopedKeys(bin: string, binAliases: string[] | undefined, k: string): string[] {
  return [bin, ...(binAliases ?? [])].filter(Boolean).map((alias) => [alias.replaceAll('@', '').replaceAll(/[/-]/g, '_'), k].join('_').toUpperCase());
}

/** Where Node would find package `name` from `root`: the first node_modules/<name> up the tree. */
function packageDir(root: string, name: string): string | undefined {
  for (let dir = root; ; ) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** oclif's collateSpacedCmdIDFromArgs (topic separator ' '): the command words at the front of argv. */
function collateId(argv: string[], ids: string[], find: (id: string) => ManifestCommand | undefined): string[] {
  if (argv.length === 1) return argv;
  const usable = new Set(ids.flatMap((id) => id.split(':').map((_, i, a) => a.slice(0, i + 1).join(':'))));
  const final: string[] = [];
  const finalize = (s?: string) => (s ? [...final, s] : final).filter(Boolean).join(':');
  const hasArgs = () => {
    const id = finalize();
    if (!id) return false;
    const cmd = find(id);
    return Boolean(cmd && (cmd.strict === false || Object.keys(cmd.args ?? {}).length > 0));
  };
  for (const arg of argv) {
    if (usable.has(finalize(arg))) final.push(arg);
    else if (arg.includes('=') || arg.startsWith('-') || hasArgs()) break;
    else final.push(arg);
  }
  const id = finalize();
  return id ? [id, ...argv.slice(id.split(':').length)] : argv;
}

/**
 * Whether this argv can run on the fast path, and with what: undefined means full oclif.
 * `root` is the package root (where package.json and oclif.manifest.json are).
 */
export function fastPlan(root: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): FastPlan | undefined {
  if (env.SIPCTL_NO_FAST_PATH === '1' || env.DEBUG) return undefined;
  if (Object.keys(env).some((k) => k.startsWith('OCLIF_') && k !== 'OCLIF_DISABLE_ENGINE_WARNING')) return undefined;
  if (argv.length === 0 || argv[0].startsWith('-') || argv[0].includes(':')) return undefined;

  const pjson = readJson<PackageJson>(join(root, 'package.json'));
  const o = pjson?.oclif;
  if (!pjson || !o || typeof o.commands !== 'string' || o.topicSeparator !== ' ' || o.flexibleTaxonomy || o.theme || o.jitPlugins || o.state) return undefined;
  const bin = o.bin ?? pjson.name;
  if (SCOPED_VARS.some((k) => scopedKeys(bin, o.binAliases, k).some((key) => env[key]))) return undefined;
  const dd = argv.indexOf('--');
  const beforeDd = dd < 0 ? argv : argv.slice(0, dd);
  if (beforeDd.some((a) => a === '--help' || (o.additionalHelpFlags ?? []).includes(a))) return undefined;
  if ((o.additionalVersionFlags ?? []).includes(argv[0])) return undefined;
  if (Object.keys(o.hooks ?? {}).some((h) => COMMAND_HOOKS.includes(h))) return undefined;

  // oclif's user plugins (<dataDir>/package.json) and theme (<configDir>/theme.json).
  const home = env.HOME || homedir() || tmpdir();
  const dirname = o.dirname ?? pjson.name;
  if (existsSync(join(env.XDG_DATA_HOME || join(home, '.local/share'), dirname, 'package.json'))) return undefined;
  if (existsSync(join(env.XDG_CONFIG_HOME || join(home, '.config'), dirname, 'theme.json'))) return undefined;

  const manifest = readManifest(root);
  if (!manifest?.commands || String(manifest.version).split('-')[0] !== pjson.version.split('-')[0]) return undefined;

  // Core plugins: their commands take part in finding the id (oclif's commandIDs: ids, not
  // aliases); their hooks must not be command hooks; an id or alias of theirs is theirs.
  const pluginIds: string[] = [];
  const pluginNames = new Set<string>();
  for (const name of o.plugins ?? []) {
    const dir = packageDir(root, name);
    if (!dir) return undefined;
    const p = readJson<PackageJson>(join(dir, 'package.json'));
    const m = readJson<Manifest>(join(dir, 'oclif.manifest.json'));
    if (!p || !m?.commands) return undefined;
    if (Object.keys(p.oclif?.hooks ?? {}).some((h) => COMMAND_HOOKS.includes(h))) return undefined;
    for (const c of Object.values(m.commands)) {
      pluginIds.push(c.id);
      for (const n of [c.id, ...(c.aliases ?? []), ...(c.hiddenAliases ?? [])]) pluginNames.add(n);
    }
  }

  const commands = Object.values(manifest.commands);
  const byId = new Map<string, ManifestCommand>();
  const aliases = new Set<string>();
  for (const c of commands) {
    byId.set(c.id, c);
    for (const a of [...(c.aliases ?? []), ...(c.hiddenAliases ?? [])]) aliases.add(a);
  }
  for (const c of commands) for (const a of [...(c.aliases ?? []), ...(c.hiddenAliases ?? [])]) if (!byId.has(a)) byId.set(a, c);
  const commandIDs = [...commands.map((c) => c.id), ...pluginIds];

  const [id, ...rest] = collateId([...argv], commandIDs, (x) => byId.get(x));
  const cmd = manifest.commands[id];
  if (!cmd || cmd.id !== id || aliases.has(id) || pluginNames.has(id)) return undefined;
  if (!cmd.isESM || !cmd.relativePath?.length || cmd.state === 'deprecated' || cmd.deprecateAliases) return undefined;

  const config: FastConfig = {
    root,
    name: pjson.name,
    version: pjson.version,
    pjson: pjson as PackageJson & { oclif: OclifSettings },
    bin,
    binAliases: o.binAliases,
    dirname,
    platform: oclifPlatform(),
    arch: oclifArch(),
    windows: false,
    userAgent: userAgent(pjson.name, pjson.version),
    topicSeparator: ' ',
    flexibleTaxonomy: false,
    isSingleCommandCLI: false,
    theme: undefined,
    commandIDs,
    findCommand: (x) => byId.get(x),
    runHook: async () => ({ successes: [], failures: [] }),
    scopedEnvVarKeys: (k) => scopedKeys(bin, o.binAliases, k),
    scopedEnvVarKey: (k) => [bin, k].map((p) => p.replaceAll('@', '').replaceAll(/[/-]/g, '_')).join('_').toUpperCase(),
    scopedEnvVar: (k) => process.env[scopedKeys(bin, o.binAliases, k).find((key) => process.env[key]) ?? ''],
    scopedEnvVarTrue: (k) => ['1', 'true'].includes(config.scopedEnvVar(k) ?? ''),
  };
  return { id, argv: rest, file: join(root, ...cmd.relativePath), config };
}

interface CommandClass {
  id?: string;
  isESM?: boolean;
  relativePath?: string[];
  run?: unknown;
  new (argv: string[], config: FastConfig): { id?: string; _run(): Promise<unknown> };
}

const quiet = () => {};
const QUIET = { namespace: 'oclif', child: () => QUIET, debug: quiet, error: quiet, info: quiet, trace: quiet, warn: quiet };

/**
 * The command's entry and its chunks, read synchronously with require() (Node >= 20.19 loads ES
 * modules that way): import() reads each of the twenty-odd files through the thread pool, and on a
 * busy machine every one of those round trips waits for a time slice. A graph require() cannot
 * take (top-level await, an older Node) is imported.
 */
async function loadModule(file: string): Promise<Record<string, unknown>> {
  try {
    // node:module taken when used: loading it loads Node's ES-module loader too (Node 20), which a
    // fast-path run from dist/cjs (bin/run.cjs passes its own loader) never needs.
    const { createRequire } = process.getBuiltinModule('node:module');
    return createRequire(import.meta.url)(file) as Record<string, unknown>;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw e;
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }
}

/** oclif's searchForCommandClass. */
function commandClass(mod: Record<string, unknown>): CommandClass | undefined {
  if (typeof mod.run === 'function') return mod as unknown as CommandClass;
  const d = mod.default as CommandClass | undefined;
  if (d && d.run) return d;
  return Object.values(mod).find((c) => typeof (c as CommandClass)?.run === 'function') as CommandClass | undefined;
}

/**
 * Runs the plan (see fastPlan); false when the command file holds no command class (then full oclif).
 * `load` reads the command's file: bin/run.cjs passes its CommonJS loader when it runs this file
 * from dist/cjs/ (plan.file then names the .cjs copy).
 */
export async function fastRun(plan: FastPlan, load: (file: string) => Record<string, unknown> | Promise<Record<string, unknown>> = loadModule): Promise<boolean> {
  const mod = await load(plan.file);
  const C = commandClass(mod);
  if (!C) return false;
  // @oclif/core is CommonJS: a dynamic import of it from the bundle gives module.exports as default.
  const oclif = (await import('@oclif/core')) as typeof import('@oclif/core') & { default?: typeof import('@oclif/core') };
  // Read where used: each is a lazy part of the bundled oclif, and handle's module (with
  // clean-stack) is needed only when the command failed.
  const core = oclif.default ?? oclif;
  // oclif logs through the debug package, which prints nothing without DEBUG (and with DEBUG set
  // there is no fast path): a logger that prints nothing spares loading it.
  const logger = (await import('@oclif/core/logger')) as typeof import('@oclif/core/logger') & { default?: typeof import('@oclif/core/logger') };
  (logger.default ?? logger).setLogger({ root: plan.config.root, logger: QUIET });
  C.id = plan.id;
  C.isESM = true;
  C.relativePath = plan.file.slice(plan.config.root.length + 1).split('/');
  try {
    await new C(plan.argv, plan.config)._run();
    await core.flush();
  } catch (error) {
    await core.handle(error as Error);
  }
  return true;
}
