/**
 * What every command that talks to running proxies shares: the RPC flags, turning config into a
 * NodeSet, and turning an OpResult into tables (people) or JSON (scripts), with one exit code
 * for any failed node. Rendering lives here so the commands, `batch` and `shell` agree.
 */
import { Flags, type Command } from '@oclif/core';
import type { ConfigValues } from '../core/config/config.js';
import { SipctlError, UsageError } from '../core/errors.js';
import { renderYamlish } from '../core/rpc/render.js';
import { NodeSet, nodesError, outcomeJson, type NodeOutcome } from '../core/proxy/node-set.js';
import type { OpContext, OpResult } from '../core/proxy/ops.js';
import { BaseCommand } from './base-command.js';
import { renderRecord, renderTable, sanitize, type OutputPolicy } from './output.js';
import { VIEWS, jsonValue } from './views.js';

export const rpcFlags = {
  rpc: Flags.string({ description: 'proxy RPC URL (repeatable): http(s)://host:port/RPC, fifo:/path, unix:/path (also SIPCTL_RPC; default http://127.0.0.1:5071/RPC)', multiple: true, multipleNonGreedy: true, helpGroup: 'RPC' }),
  node: Flags.string({ description: 'configured node name(s) to talk to (repeatable, comma-separated; "all" = every node)', multiple: true, multipleNonGreedy: true, helpGroup: 'RPC' }),
  timeout: Flags.string({ description: 'per-call timeout: milliseconds or e.g. 5s (also SIPCTL_TIMEOUT; default 5000; dumps default to 10 min, reload retries to 10s)', helpGroup: 'RPC' }),
  'rpc-auth-file': Flags.string({ description: 'file (mode 0600) holding "user:password" or "Bearer TOKEN" for HTTP auth (else SIPCTL_RPC_USER/PASSWORD/TOKEN or the config file)', env: 'SIPCTL_RPC_AUTH_FILE', helpGroup: 'RPC' }),
  'rpc-ca-file': Flags.string({ description: 'PEM CA certificate(s) to trust for https:// proxies (also SIPCTL_RPC_CA_FILE)', helpGroup: 'RPC' }),
};

/** Destructive commands: ask on a terminal, else need --yes (a usage error naming it). */
export const yesFlag = Flags.boolean({ char: 'y', description: 'do not ask for confirmation (required when there is no terminal)' });
/** Commands that change data on the proxies or in the database. */
export const dryRunFlag = Flags.boolean({ description: 'check and show what would change; change nothing' });

export { DEFAULT_DUMP_TIMEOUT_MS, DEFAULT_RELOAD_BUDGET_MS } from '../core/session.js';

/** "5000" → 5000 ms; also "500ms", "5s", "2m". */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[(m[2] ?? 'ms').toLowerCase() as 'ms' | 's' | 'm']) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError('BAD_TIMEOUT', `--timeout: "${value}" is not a positive duration`, 'e.g. --timeout 2000 or --timeout 2s');
  return Math.round(n);
}

export { readAuthFile } from '../core/rpc/auth-file.js';

type RpcFlagValues = { rpc?: string[]; node?: string[]; timeout?: string; 'rpc-auth-file'?: string; 'rpc-ca-file'?: string };

/**
 * Base of every command that talks to proxies: adds the RPC flags, builds the NodeSet once
 * (closed in finally), and renders OpResults.
 */
export abstract class RpcCommand<T extends typeof Command> extends BaseCommand<T> {
  private get rpcFlagValues(): RpcFlagValues {
    return this.flags as unknown as RpcFlagValues;
  }

  protected override configOverrides(): Partial<ConfigValues> {
    const f = this.rpcFlagValues;
    return { rpc: f.rpc, timeoutMs: parseTimeout(f.timeout), rpcCaFile: f['rpc-ca-file'] };
  }

  protected override sessionOptions() {
    return { node: this.rpcFlagValues.node, rpcAuthFile: this.rpcFlagValues['rpc-auth-file'] };
  }

  /** The timeout was chosen by the user (flag, env, config file), not the built-in default. */
  protected get timeoutExplicit(): boolean {
    return this.session.timeoutExplicit;
  }

  /** The proxies (the Session's NodeSet: built once, closed in finally). */
  protected nodeSet(): NodeSet {
    return this.session.nodeSet();
  }

  protected opContext(): OpContext {
    return this.session.opContext({ dryRun: (this.flags as { 'dry-run'?: boolean })['dry-run'] === true });
  }

  /**
   * Before a destructive change: nothing to ask under --dry-run or --yes; on a terminal, ask;
   * otherwise a usage error (exit 2) naming --yes.
   */
  protected async confirmDestructive(question: string): Promise<void> {
    const f = this.flags as { yes?: boolean; 'dry-run'?: boolean };
    if (f['dry-run']) return;
    const { confirmAction } = await import('./prompt.js');
    await confirmAction(question, f.yes === true);
  }

  /** JSON without oclif's colouring tokenizer, which is far too slow for a dump of tens of MB. */
  protected override logJson(json: unknown): void {
    writeJson(json);
  }

  /**
   * Print an OpResult the way people or scripts want it and return the JSON envelope. When any
   * node failed, the envelope still goes to stdout (--json), and the thrown error names the
   * node(s) and sets the exit code (the others still did their part).
   */
  protected async finish(result: OpResult, opts: { json?: (r: OpResult) => unknown; raw?: boolean } = {}): Promise<unknown> {
    const multi = this.nodeSet().multi;
    for (const w of result.warnings) this.note(`sipctl: warning: ${w}`);
    const json = opts.json ? opts.json(result) : resultJson(result, { raw: opts.raw });
    const err = nodesError(result.outcomes, this.nodeSet().nodes.length);
    if (!this.jsonEnabled()) {
      const text = await renderResult(result, this.out, multi);
      if (text !== '') this.log(text);
    }
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    return json;
  }
}

export function writeJson(json: unknown): void {
  process.stdout.write(JSON.stringify(json, null, 2) + '\n');
}

// ---------------------------------------------------------------- JSON

/** One node's part of a proxy command's JSON: its result, or its error. */
export type NodeResultJson<R = unknown> =
  | { node: string; ok: true; result: R }
  | { node: string; ok: false; error: { code: string; category: string; message: string; hint?: string } };

/**
 * The one JSON shape of every command that talks to proxies, whatever the number of nodes:
 * `{nodes: [{node, ok, result | error}], warnings: [...]}` (schemas/proxy-envelope.json).
 * One node is a list of one, so a script reads `.nodes[0].result` against one proxy or ten.
 */
export interface ProxyEnvelope<R = unknown> {
  nodes: Array<NodeResultJson<R>>;
  warnings: string[];
}

export function envelope<T, R = T>(outcomes: Array<NodeOutcome<T>>, warnings: string[] = [], map?: (v: T) => R): ProxyEnvelope<R> {
  return { nodes: outcomes.map((o) => outcomeJson(o, map) as NodeResultJson<R>), warnings };
}

export function resultJson(result: OpResult, opts: { raw?: boolean } = {}): ProxyEnvelope {
  return envelope(result.outcomes, result.warnings, (v) => jsonValue(result.view, v, opts.raw));
}

// ---------------------------------------------------------------- text

const LARGE_TABLE = 2000;

/** Tables for people on a TTY (TSV when piped); several nodes add a NODE column. */
export async function renderResult(result: OpResult, out: OutputPolicy, multi: boolean): Promise<string> {
  const spec = VIEWS[result.view];
  const okOutcomes = result.outcomes.filter((o): o is Extract<NodeOutcome<unknown>, { ok: true }> => o.ok);
  switch (spec.kind) {
    case 'rows': {
      if (!multi && spec.record) {
        const o = result.outcomes[0]!;
        return o.ok ? renderRecord(spec.record(o.value), out) : '';
      }
      const rows = multi && spec.merged ? spec.merged(okOutcomes) : okOutcomes.flatMap((o) => spec.rows(o.value).map((r) => ({ ...(r as object), node: o.node })));
      if (rows.length === 0) return '';
      const all = [...(multi ? [{ header: 'NODE', get: (r: { node: string }) => r.node }] : []), ...spec.columns(out)];
      if (out.tty && rows.length > LARGE_TABLE) return renderTable(rows, all, { ...out, tty: false }).then((body) => all.map((c) => c.header).join('\t') + '\n' + body);
      return renderTable(rows, all, out);
    }
    case 'status': {
      if (!multi) {
        const o = result.outcomes[0]!;
        return o.ok ? sanitize(spec.message(o.value)) : '';
      }
      const rows = result.outcomes.map((o) => ({ node: o.node, status: o.ok ? 'ok' : 'error', message: o.ok ? spec.message(o.value) : o.error.message }));
      return renderTable(rows, [{ header: 'NODE', get: (r) => r.node }, { header: 'STATUS', get: (r) => r.status }, { header: 'MESSAGE', get: (r) => r.message }], out);
    }
    case 'per-node':
      return renderTable(result.outcomes.map((o) => ({ o })), spec.columns(out), out);
    case 'raw': {
      if (!multi) {
        const o = result.outcomes[0]!;
        return o.ok ? renderYamlish(o.value) : '';
      }
      return result.outcomes.map((o) => `== ${sanitize(o.node)} ==\n` + (o.ok ? renderYamlish(o.value) : `error: ${sanitize(o.error.message)}`)).join('\n');
    }
  }
}

// ---------------------------------------------------------------- batch / shell

/** One line of `batch` output: `ok<TAB>summary` or `error<TAB>message`; never more than one line. */
export function compactLine(result: OpResult, multi: boolean): string {
  const err = nodesError(result.outcomes);
  const summary = VIEWS[result.view].summary;
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
