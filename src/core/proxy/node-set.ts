import { SipctlError, isSipctlError, type ErrorCategory } from '../errors.js';
import type { CallOptions, RpcAuth, RpcBatchOutcome, RpcCall, RpcClient, RpcParams, TransportKind } from '../rpc/client.js';
import { closeAll } from '../close-all.js';
import { OneAtATime } from '../one-at-a-time.js';
import { parseRpcUrl } from '../rpc/rpc-url.js';
import type { ProxyNode } from './targets.js';

type RpcModule = typeof import('../rpc/client.js');
let rpc: RpcModule | undefined;
let rpcLoading: Promise<RpcModule> | undefined;

/**
 * The RPC layer (client and transports), evaluated on first use (issue 15): session.ts reaches
 * this file for every command, and database-only ones such as `show` never talk to a proxy.
 */
function loadRpc(): Promise<RpcModule> {
  return (rpcLoading ??= import('../rpc/client.js').then((m) => (rpc = m)));
}

export interface NodeSetOptions {
  timeoutMs: number;
  auth?: RpcAuth;
  caFile?: string;
  fifoReplyDir?: string;
}

/** What one node did with one request. */
export type NodeOutcome<T> =
  | { node: string; ok: true; value: T }
  | { node: string; ok: false; error: SipctlError };

/**
 * The proxies a command (or a whole batch/shell session) talks to, one RPC client each, opened
 * on first use and kept open until close(): a batch of 10,000 lines or a shell session pays for
 * connection set-up (reply FIFO/socket, keep-alive agent) once per node, not once per line.
 */
export class NodeSet {
  readonly nodes: ProxyNode[];
  readonly timeoutMs: number;
  private readonly opts: NodeSetOptions;
  private readonly clients = new Map<string, RpcClient>();
  /** keepCallOrder(): each node's client behind its InOrderClient. */
  private inOrder?: Map<string, InOrderClient>;

  constructor(nodes: ProxyNode[], opts: NodeSetOptions) {
    if (nodes.length === 0) throw new Error('NodeSet needs at least one node');
    this.nodes = nodes;
    this.opts = opts;
    this.timeoutMs = opts.timeoutMs;
  }

  /** More than one node: output gets a node column and JSON a per-node envelope. */
  get multi(): boolean {
    return this.nodes.length > 1;
  }

  client(node: ProxyNode): RpcClient {
    let c = this.clients.get(node.url);
    if (!c) {
      const make = (m: RpcModule) =>
        m.createRpcClient(node.url, {
          timeoutMs: this.opts.timeoutMs,
          auth: this.opts.auth,
          caFile: this.opts.caFile,
          fifoReplyDir: this.opts.fifoReplyDir,
        });
      // each() loads the RPC layer first; a caller asking for a client before that gets one that loads it on its first call.
      c = rpc ? make(rpc) : new LazyClient(node.url, this.opts.timeoutMs, () => loadRpc().then(make));
      this.clients.set(node.url, c);
    }
    return c;
  }

  /**
   * From now on, each node executes the calls made through each() in the order they were made,
   * even when a call is made before the ones before it have been answered (`sipctl batch` sends
   * the next line while the proxy works on the one before): see InOrderClient.
   */
  keepCallOrder(): void {
    this.inOrder ??= new Map();
  }

  /** Calls made so far through each() since keepCallOrder() (0 before it). */
  get callsMade(): number {
    let n = 0;
    for (const c of this.inOrder?.values() ?? []) n += c.made;
    return n;
  }

  /**
   * Every node is reached over Kamailio's FIFO, whose one process executes requests in the order
   * written: with keepCallOrder(), calls go out without waiting for the replies before them.
   */
  get pipelines(): boolean {
    return this.nodes.every((n) => parseRpcUrl(n.url).kind === 'fifo');
  }

  private ordered(node: ProxyNode): InOrderClient {
    let c = this.inOrder!.get(node.url);
    if (!c) this.inOrder!.set(node.url, (c = new InOrderClient(this.client(node), parseRpcUrl(node.url).kind === 'fifo')));
    return c;
  }

  /**
   * Run `fn` against every node, all at once. A node that fails does not stop the others: every
   * node gets the call and reports its own outcome, in node order. Once the RPC layer is loaded,
   * `fn` runs before each() returns (a batch line's calls are then made in line order).
   */
  async each<T>(fn: (client: RpcClient, node: ProxyNode) => Promise<T>): Promise<Array<NodeOutcome<T>>> {
    if (!rpc) await loadRpc();
    return Promise.all(this.nodes.map(async (node): Promise<NodeOutcome<T>> => {
      try {
        return { node: node.name, ok: true, value: await fn(this.inOrder ? this.ordered(node) : this.client(node), node) };
      } catch (e) {
        return { node: node.name, ok: false, error: asSipctlError(e) };
      }
    }));
  }

  /** Closes every node's client, all of them even when one fails, then throws what failed (closeAll). */
  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await closeAll(all.map((c) => () => c.close()));
  }
}

/**
 * One proxy's calls in the order they were made, however many are outstanding. Kamailio's FIFO
 * process reads and executes one document after the other, so calls go out at once (the FIFO
 * transport pipelines them). Over HTTP each request is a connection that any TCP worker may
 * serve, concurrently with the one before it, so a call goes out once the call before it has
 * settled; the datagram socket and sipd's stream socket get the same (their deadline then starts
 * when the call goes out, as for a call made alone).
 */
class InOrderClient implements RpcClient {
  /** Calls made through this client. */
  made = 0;
  private readonly turns = new OneAtATime();

  constructor(
    private readonly real: RpcClient,
    private readonly pipelines: boolean,
  ) {}

  get url(): string {
    return this.real.url;
  }

  get timeoutMs(): number {
    return this.real.timeoutMs;
  }

  call<T = unknown>(method: string, params?: RpcParams, opts?: CallOptions): Promise<T> {
    return this.inTurn(1, () => this.real.call<T>(method, params, opts));
  }

  batch(calls: RpcCall[]): Promise<RpcBatchOutcome[]> {
    return this.inTurn(calls.length, () => this.real.batch(calls));
  }

  /** `send` now (pipelining) or once everything made before it has settled. */
  private inTurn<T>(calls: number, send: () => Promise<T>): Promise<T> {
    this.made += calls;
    return this.pipelines ? send() : this.turns.run(send);
  }

  close(): Promise<void> {
    return this.real.close();
  }

  kind(): TransportKind {
    return this.real.kind();
  }
}

/**
 * A client made before the RPC layer was loaded: the real one is made on the first call (its
 * option errors then reject that call), and close() before any call closes a real one too, so a
 * later call fails as a closed client's does.
 */
class LazyClient implements RpcClient {
  readonly url: string;
  private readonly endpointKind: TransportKind;
  private real?: Promise<RpcClient>;
  private made?: RpcClient;
  /** close() came before any call. */
  private closedFirst = false;

  constructor(
    raw: string,
    readonly timeoutMs: number,
    private readonly make: () => Promise<RpcClient>,
  ) {
    const endpoint = parseRpcUrl(raw);
    this.url = endpoint.display;
    this.endpointKind = endpoint.kind;
  }

  private get(): Promise<RpcClient> {
    return (this.real ??= this.make().then(async (c) => {
      this.made = c;
      if (this.closedFirst) await c.close();
      return c;
    }));
  }

  call<T = unknown>(method: string, params?: RpcParams, opts?: CallOptions): Promise<T> {
    return this.get().then((c) => c.call<T>(method, params, opts));
  }

  batch(calls: RpcCall[]): Promise<RpcBatchOutcome[]> {
    return this.get().then((c) => c.batch(calls));
  }

  async close(): Promise<void> {
    if (this.real) await (await this.real).close();
    else this.closedFirst = true;
  }

  kind(): TransportKind {
    return this.made ? this.made.kind() : this.endpointKind;
  }
}

export function asSipctlError(e: unknown): SipctlError {
  if (isSipctlError(e)) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  return new SipctlError('INTERNAL', err.message, { category: 'internal', cause: err });
}

/** Outcomes that failed. */
export function failedOutcomes<T>(outcomes: Array<NodeOutcome<T>>): Array<Extract<NodeOutcome<T>, { ok: false }>> {
  return outcomes.filter((o): o is Extract<NodeOutcome<T>, { ok: false }> => !o.ok);
}

/**
 * The error to exit with when some nodes failed, or undefined when all succeeded.
 * With one node it is that node's own error (same code, exit code and hint), so a single proxy
 * behaves exactly like a direct call. With several, the message names every failed node and the
 * exit code is the first failure's (all failures' if they agree); `details.failed` lists them.
 */
export function nodesError<T>(outcomes: Array<NodeOutcome<T>>, total = outcomes.length): SipctlError | undefined {
  const failed = failedOutcomes(outcomes);
  if (failed.length === 0) return undefined;
  if (total === 1) return failed[0]!.error;
  const category: ErrorCategory = failed[0]!.error.category;
  const parts = failed.map((f) => `${f.node}: ${f.error.message}`);
  const okCount = total - failed.length;
  return new SipctlError('NODES_FAILED', `${failed.length} of ${total} nodes failed (${okCount} ok) — ${parts.join('; ')}`, {
    category,
    hint: failed[0]!.error.hint,
    details: { failed: failed.map((f) => ({ node: f.node, code: f.error.code, category: f.error.category, message: f.error.message })) },
  });
}

/** The JSON form of an outcome: `{node, ok, result}` or `{node, ok, error: {code, category, message}}`. */
export function outcomeJson<T, R = T>(o: NodeOutcome<T>, map: (v: T) => R = (v) => v as unknown as R): Record<string, unknown> {
  if (o.ok) return { node: o.node, ok: true, result: map(o.value) };
  return { node: o.node, ok: false, error: { code: o.error.code, category: o.error.category, message: o.error.message, ...(o.error.hint ? { hint: o.error.hint } : {}) } };
}
