/**
 * What every command that talks to running proxies shares: the RPC flags, turning config into a
 * NodeSet, and turning an OpResult into tables (people) or JSON (scripts), with one exit code
 * for any failed node. Rendering lives here so the commands, `batch` and `shell` agree.
 */
import { assertPrivateMode, readFileWithMode } from '../core/config/private-file.js';
import { Flags, type Command } from '@oclif/core';
import type { ConfigValues } from '../core/config/config.js';
import { ConfigError, SipctlError, UsageError } from '../core/errors.js';
import type { RpcAuth } from '../core/rpc/client.js';
import type { HtableInfo, HtableRow, UlContactRow } from '../core/rpc/methods.js';
import { renderYamlish } from '../core/rpc/render.js';
import type { HtableChange, HtableItem, UnbanResult } from '../core/proxy/htable.js';
import { NodeSet, nodesError, outcomeJson, type NodeOutcome } from '../core/proxy/node-set.js';
import type { OpContext, OpResult } from '../core/proxy/ops.js';
import type { LoadedAddress, ReloadResult } from '../core/proxy/permissions.js';
import { formatDuration, type NodeHealth } from '../core/proxy/status.js';
import { resolveTargets } from '../core/proxy/targets.js';
import type { UlDump, UlLookup, UlRemoval } from '../core/proxy/ul.js';
import { BaseCommand } from './base-command.js';
import { renderTable, sanitize, type Column, type OutputPolicy } from './output.js';

export const rpcFlags = {
  rpc: Flags.string({ description: 'proxy RPC URL (repeatable): http(s)://host:port/RPC, fifo:/path, unix:/path (also SIPCTL_RPC; default http://127.0.0.1:5071/RPC)', multiple: true, multipleNonGreedy: true, helpGroup: 'RPC' }),
  node: Flags.string({ description: 'configured node name(s) to talk to (repeatable, comma-separated; "all" = every node)', multiple: true, multipleNonGreedy: true, helpGroup: 'RPC' }),
  timeout: Flags.string({ description: 'per-call timeout: milliseconds or e.g. 5s (also SIPCTL_TIMEOUT; default 5000; dumps default to 120s, reload retries to 10s)', helpGroup: 'RPC' }),
  'rpc-auth-file': Flags.string({ description: 'file (mode 0600) holding "user:password" or "Bearer TOKEN" for HTTP auth (else SIPCTL_RPC_USER/PASSWORD/TOKEN or the config file)', env: 'SIPCTL_RPC_AUTH_FILE', helpGroup: 'RPC' }),
  'rpc-ca-file': Flags.string({ description: 'PEM CA certificate(s) to trust for https:// proxies (also SIPCTL_RPC_CA_FILE)', helpGroup: 'RPC' }),
};

/** Default deadline of dumps (ul dump of 100,000 contacts takes Kamailio 5.6 ~35 s) when no timeout was set. */
export const DEFAULT_DUMP_TIMEOUT_MS = 120_000;
/** Default retry budget of `address reload` (Kamailio refuses reloads for reload_delta = 5 s). */
export const DEFAULT_RELOAD_BUDGET_MS = 10_000;

/** "5000" → 5000 ms; also "500ms", "5s", "2m". */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[(m[2] ?? 'ms').toLowerCase() as 'ms' | 's' | 'm']) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError('BAD_TIMEOUT', `--timeout: "${value}" is not a positive duration`, 'e.g. --timeout 2000 or --timeout 2s');
  return Math.round(n);
}

/**
 * The auth file: one line, `user:password` (basic) or `Bearer TOKEN` / a bare token (bearer).
 * Like ssh keys, it must not be readable by group or others.
 */
export function readAuthFile(path: string): RpcAuth {
  const { text, mode } = readFileWithMode(path, 'RPC auth file', 'RPC_AUTH_FILE_UNREADABLE');
  assertPrivateMode(path, mode, 'RPC auth file');
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  if (line === '') throw new ConfigError('RPC_AUTH_FILE_EMPTY', `RPC auth file ${path} is empty`);
  const bearer = /^bearer\s+(.+)$/i.exec(line);
  if (bearer) return { bearer: bearer[1]!.trim() };
  const colon = line.indexOf(':');
  if (colon > 0) return { user: line.slice(0, colon), password: line.slice(colon + 1) };
  return { bearer: line };
}

type RpcFlagValues = { rpc?: string[]; node?: string[]; timeout?: string; 'rpc-auth-file'?: string; 'rpc-ca-file'?: string };

/**
 * Base of every command that talks to proxies: adds the RPC flags, builds the NodeSet once
 * (closed in finally), and renders OpResults.
 */
export abstract class RpcCommand<T extends typeof Command> extends BaseCommand<T> {
  private nodeSetInstance?: NodeSet;

  private get rpcFlagValues(): RpcFlagValues {
    return this.flags as unknown as RpcFlagValues;
  }

  protected override configOverrides(): Partial<ConfigValues> {
    const f = this.rpcFlagValues;
    return { rpc: f.rpc, timeoutMs: parseTimeout(f.timeout), rpcCaFile: f['rpc-ca-file'] };
  }

  /** The timeout was chosen by the user (flag, env, config file), not the built-in default. */
  protected get timeoutExplicit(): boolean {
    return this.cfg.sources.timeoutMs.source !== 'default';
  }

  protected nodeSet(): NodeSet {
    if (!this.nodeSetInstance) {
      const v = this.cfg.values;
      const targets = resolveTargets(this.cfg, { node: this.rpcFlagValues.node });
      const authFile = this.rpcFlagValues['rpc-auth-file'];
      let auth: RpcAuth | undefined;
      if (authFile) auth = readAuthFile(authFile);
      else if (v.rpcToken) auth = { bearer: v.rpcToken };
      else if (v.rpcUser) auth = { user: v.rpcUser, password: v.rpcPassword ?? '' };
      this.nodeSetInstance = new NodeSet(targets, { timeoutMs: v.timeoutMs, auth, caFile: v.rpcCaFile, fifoReplyDir: v.rpcFifoReplyDir });
    }
    return this.nodeSetInstance;
  }

  protected opContext(): OpContext {
    const t = this.cfg.values.timeoutMs;
    return {
      nodes: this.nodeSet(),
      longTimeoutMs: this.timeoutExplicit ? t : Math.max(t, DEFAULT_DUMP_TIMEOUT_MS),
      reloadBudgetMs: this.timeoutExplicit ? t : Math.max(t, DEFAULT_RELOAD_BUDGET_MS),
    };
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    await this.nodeSetInstance?.close();
    return super.finally(err);
  }

  /** JSON without oclif's colouring tokenizer, which is far too slow for a dump of tens of MB. */
  protected override logJson(json: unknown): void {
    writeJson(json);
  }

  /**
   * Print an OpResult the way people or scripts want it and return the JSON value. When any node
   * failed, the per-node JSON still goes to stdout, and the thrown error names the node(s) and
   * sets the exit code (the others still did their part).
   */
  protected async finish(result: OpResult, opts: { json?: (r: OpResult) => unknown } = {}): Promise<unknown> {
    const multi = this.nodeSet().multi;
    for (const w of result.warnings) this.note(`sipctl: warning: ${w}`);
    const json = opts.json ? opts.json(result) : resultJson(result, multi);
    const err = nodesError(result.outcomes, this.nodeSet().nodes.length);
    if (!this.jsonEnabled()) {
      const text = await renderResult(result, this.out, multi);
      if (text !== '') this.log(text);
    }
    if (err) {
      if (this.jsonEnabled() && multi) writeJson(json);
      throw err;
    }
    return json;
  }
}

export function writeJson(json: unknown): void {
  process.stdout.write(JSON.stringify(json, null, 2) + '\n');
}

// ---------------------------------------------------------------- JSON

/**
 * One node: the command's own result (for ul dump, the proxy's own structure; warnings, if any,
 * travel inside it). Several nodes: `{nodes: [{node, ok, result | error}], warnings?}`.
 */
export function resultJson(result: OpResult, multi: boolean): unknown {
  const perNodeViews = new Set(['health', 'uptime', 'version']);
  if (perNodeViews.has(result.view)) {
    return result.outcomes.map((o) => (o.ok ? { node: o.node, ok: true, ...(o.value as object) } : outcomeJson(o)));
  }
  const value = (v: unknown): unknown => (result.view === 'ul-rows' ? ((v as UlDump).raw ?? (v as UlDump).rows) : v);
  if (!multi) {
    const o = result.outcomes[0]!;
    const v = o.ok ? value(o.value) : undefined;
    if (result.warnings.length && v && typeof v === 'object' && !Array.isArray(v) && !('warnings' in v)) return { ...(v as object), warnings: result.warnings };
    return v;
  }
  return { nodes: result.outcomes.map((o) => outcomeJson(o, value)), ...(result.warnings.length ? { warnings: result.warnings } : {}) };
}

// ---------------------------------------------------------------- text

const LARGE_TABLE = 2000;

/** Tables for people on a TTY (TSV when piped); several nodes add a NODE column. */
export async function renderResult(result: OpResult, out: OutputPolicy, multi: boolean): Promise<string> {
  const okOutcomes = result.outcomes.filter((o): o is Extract<NodeOutcome<unknown>, { ok: true }> => o.ok);
  const merged = <R>(pick: (v: unknown) => R[]): Array<R & { node: string }> => okOutcomes.flatMap((o) => pick(o.value).map((r) => ({ ...r, node: o.node })));
  const nodeCol: Array<Column<{ node: string }>> = multi ? [{ header: 'NODE', get: (r) => r.node }] : [];
  const table = async <R extends { node: string }>(rows: R[], cols: Array<Column<R>>): Promise<string> => {
    if (rows.length === 0) return '';
    const all = [...(nodeCol as Array<Column<R>>), ...cols];
    if (out.tty && rows.length > LARGE_TABLE) return renderTable(rows, all, { ...out, tty: false }).then((body) => all.map((c) => c.header).join('\t') + '\n' + body);
    return renderTable(rows, all, out);
  };
  const statusRows = async (message: (v: unknown) => string): Promise<string> => {
    if (!multi) {
      const o = result.outcomes[0]!;
      return o.ok ? sanitize(message(o.value)) : '';
    }
    const rows = result.outcomes.map((o) => ({ node: o.node, status: o.ok ? 'ok' : 'error', message: o.ok ? message(o.value) : o.error.message }));
    return renderTable(rows, [{ header: 'NODE', get: (r) => r.node }, { header: 'STATUS', get: (r) => r.status }, { header: 'MESSAGE', get: (r) => r.message }], out);
  };

  switch (result.view) {
    case 'htable-list':
      return table(merged((v) => v as HtableInfo[]), [
        { header: 'NAME', get: (r) => r.name },
        { header: 'DBTABLE', get: (r) => r.dbtable },
        { header: 'DBMODE', get: (r) => r.dbmode },
        { header: 'EXPIRE', get: (r) => r.expire },
        { header: 'SIZE', get: (r) => r.size },
      ]);
    case 'htable-rows':
      return table(merged((v) => v as HtableRow[]), [
        { header: 'KEY', get: (r) => r.name },
        { header: 'VALUE', get: (r) => r.value },
        { header: 'TYPE', get: (r) => r.type },
      ]);
    case 'htable-item': {
      if (!multi) {
        const o = result.outcomes[0]!;
        if (!o.ok) return '';
        const it = o.value as HtableItem;
        const { renderRecord } = await import('./output.js');
        return renderRecord([['table', it.table], ['key', it.key], ['value', it.value], ['type', it.type], ['expire', it.expire]], out);
      }
      return table(merged((v) => [v as HtableItem]), [
        { header: 'KEY', get: (r) => r.key },
        { header: 'VALUE', get: (r) => r.value },
        { header: 'TYPE', get: (r) => r.type },
        { header: 'EXPIRE', get: (r) => r.expire },
      ]);
    }
    case 'change':
      return statusRows((v) => (v as HtableChange).message);
    case 'unban':
      return statusRows((v) => {
        const u = v as UnbanResult;
        if (!u.ipban && u.userbanKeys.length === 0) return `${u.ip} was not banned`;
        return `unbanned ${u.ip}: ${u.ipban ? 'ipban entry removed' : 'no ipban entry'}, ${u.userbanKeys.length} userban key(s) removed`;
      });
    case 'ul-rows':
    case 'ul-lookup':
      return table(merged((v) => ((v as UlDump).rows ?? (v as UlLookup).contacts ?? []) as UlContactRow[]), ulColumns(out));
    case 'ul-rm':
      return statusRows((v) => ((v as UlRemoval).notRegistered ? 'not registered here' : `removed ${(v as UlRemoval).aor} (${(v as UlRemoval).contacts} contact(s))`));
    case 'address-loaded':
      return table(merged((v) => v as LoadedAddress[]), [
        { header: 'GROUP', get: (r) => r.group },
        { header: 'IP', get: (r) => r.ip },
        { header: 'MASK', get: (r) => r.mask },
        { header: 'PORT', get: (r) => r.port },
        { header: 'TAG', get: (r) => r.tag ?? '' },
        { header: 'KIND', get: (r) => r.kind },
      ]);
    case 'reload':
      return statusRows((v) => (v as ReloadResult).message);
    case 'health':
      return renderTable(result.outcomes.map((o) => ({ o })), [
        { header: 'NODE', get: (r) => r.o.node },
        { header: 'STATUS', get: (r) => (r.o.ok ? 'up' : 'DOWN') },
        { header: 'VERSION', get: (r) => (r.o.ok ? (r.o.value as NodeHealth).version : '') },
        { header: 'UPTIME', get: (r) => (r.o.ok ? (out.tty ? formatDuration((r.o.value as NodeHealth).uptime) : (r.o.value as NodeHealth).uptime) : '') },
        { header: 'RPC', get: (r) => (r.o.ok ? `${(r.o.value as NodeHealth).transport} ${(r.o.value as NodeHealth).latencyMs} ms` : r.o.error.message) },
      ], out);
    case 'uptime':
      return renderTable(result.outcomes.map((o) => ({ o })), [
        { header: 'NODE', get: (r) => r.o.node },
        { header: 'UPTIME', get: (r) => (r.o.ok ? (out.tty ? formatDuration((r.o.value as { uptime: number }).uptime) : (r.o.value as { uptime: number }).uptime) : 'DOWN') },
        { header: 'UP SINCE', get: (r) => (r.o.ok ? (r.o.value as { upSince: string }).upSince : r.o.error.message) },
      ], out);
    case 'version':
      return renderTable(result.outcomes.map((o) => ({ o })), [
        { header: 'NODE', get: (r) => r.o.node },
        { header: 'VERSION', get: (r) => (r.o.ok ? (r.o.value as { version: string }).version : `DOWN: ${r.o.error.message}`) },
      ], out);
    case 'raw': {
      if (!multi) {
        const o = result.outcomes[0]!;
        return o.ok ? renderYamlish(o.value) : '';
      }
      return result.outcomes.map((o) => `== ${sanitize(o.node)} ==\n` + (o.ok ? renderYamlish(o.value) : `error: ${sanitize(o.error.message)}`)).join('\n');
    }
  }
}

function ulColumns(out: OutputPolicy): Array<Column<UlContactRow & { node: string }>> {
  const now = Date.now() / 1000;
  return [
    { header: 'AOR', get: (r) => r.aor },
    { header: 'CONTACT', get: (r) => r.contact },
    { header: 'EXPIRES IN', get: (r) => (typeof r.expires === 'number' ? (out.tty ? formatDuration(r.expires) : r.expires) : r.expires) },
    { header: 'RECEIVED', get: (r) => r.received ?? '' },
    { header: 'USER AGENT', get: (r) => r.userAgent ?? '' },
    { header: 'LAST MODIFIED', get: (r) => (out.tty ? `${formatDuration(Math.max(0, now - r.lastModified))} ago` : new Date(r.lastModified * 1000).toISOString()) },
  ];
}

// ---------------------------------------------------------------- batch / shell

/** One line of `batch` output: `ok<TAB>summary` or `error<TAB>message`; never more than one line. */
export function compactLine(result: OpResult, multi: boolean): string {
  const err = nodesError(result.outcomes);
  const summary = (v: unknown): string => {
    switch (result.view) {
      case 'change': return (v as HtableChange).message;
      case 'htable-item': return String((v as HtableItem).value);
      case 'htable-rows': return `${(v as HtableRow[]).length} key(s)`;
      case 'ul-rows': return `${(v as UlDump).count} contact(s)`;
      case 'ul-lookup': return `${(v as UlLookup).contacts.length} contact(s)`;
      case 'ul-rm': return `removed ${(v as UlRemoval).contacts} contact(s)`;
      case 'unban': return `ipban ${(v as UnbanResult).ipban ? 'removed' : 'absent'}, ${(v as UnbanResult).userbanKeys.length} userban key(s)`;
      case 'reload': return (v as ReloadResult).message;
      case 'health': return `up ${(v as NodeHealth).uptime}s ${(v as NodeHealth).version}`;
      case 'uptime': return `${(v as { uptime: number }).uptime}s`;
      case 'version': return (v as { version: string }).version;
      default: return typeof v === 'string' ? v : JSON.stringify(v);
    }
  };
  if (!multi) {
    const o = result.outcomes[0]!;
    return o.ok ? `ok\t${sanitize(summary(o.value))}` : `error\t${sanitize(o.error.message)}`;
  }
  const parts = result.outcomes.map((o) => `${o.node}: ${o.ok ? summary(o.value) : `error: ${o.error.message}`}`);
  return `${err ? 'error' : 'ok'}\t${sanitize(parts.join('; '))}`;
}

/** A usage/parse failure of a line as a SipctlError, for the same output paths. */
export function lineError(e: unknown): SipctlError {
  if (e instanceof SipctlError) return e;
  return new SipctlError('INTERNAL', e instanceof Error ? e.message : String(e), { category: 'internal' });
}
