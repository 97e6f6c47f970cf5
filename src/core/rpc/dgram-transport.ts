import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, type Stats } from 'node:fs';
import { constants as OS, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UnixDgramSocket } from 'unix-dgram';
import { ExitCleanup } from './exit-cleanup.js';
import { SerialCalls } from './serial-calls.js';
import { RpcError, badReply, timeoutError, unreachable } from './rpc-error.js';
import { parseJsonReply, type RpcTransport, type TransportOptions, type WireRequest } from './transport.js';

export interface DgramTransportOptions extends TransportOptions {
  /** Kamailio's jsonrpcs `dgram_socket`, e.g. /run/kamailio/kamailio_rpc.sock. */
  path: string;
  /** Where the private reply socket directory is made (default: the OS temp dir). */
  replyDir?: string;
}

/**
 * The largest datagram the unix-dgram addon receives (its recvmsg buffer). A reply of exactly
 * this size was cut off; Kamailio sends every reply as ONE datagram.
 */
export const DGRAM_MAX_REPLY_BYTES = 65536;

/** Kamailio reads requests into a 65456-byte buffer (JSONRPC_DGRAM_BUF_SIZE). */
export const DGRAM_MAX_REQUEST_BYTES = 65456;

const TOO_BIG_HINT = 'Kamailio sends each reply as one datagram, so large results (ul.dump, big htable dumps) do not fit: use its FIFO (fifo:) or HTTP interface for those';

/**
 * JSON-RPC over Kamailio's jsonrpcs DATAGRAM socket (`dgram_socket`, what `kamcmd -j` and kamcli
 * use), through the optional native addon unix-dgram (Node's dgram knows only udp4/udp6).
 *
 *  - A private reply socket is bound in a fresh directory (mkdtemp, 0700) with mode 0600, as
 *    the protocol needs: Kamailio answers with sendto() to the sender's bound address. As root,
 *    the directory and socket are handed to the owner of Kamailio's socket (the proxy's user) so
 *    it can write to them; both are removed by close() and, failing that, at process exit.
 *  - One socket per client, kept open across calls (batch and shell pay for it once).
 *  - Calls are serialized: Kamailio's dgram server is one process answering one datagram at a
 *    time. A late reply to a call that already timed out carries that call's id and is dropped.
 *  - A reply of 64 KB or more cannot be received whole; that is a clear error pointing at fifo:
 *    or http:, not a JSON parse failure.
 */
export function createDgramTransport(opts: DgramTransportOptions): RpcTransport {
  const { path, display, timeoutMs } = opts;
  let sock: UnixDgramSocket | undefined;
  let opening: Promise<UnixDgramSocket> | undefined;
  let replyDirPath: string | undefined;
  let closed = false;
  /** The call waiting for its reply: id and the function settling it. */
  let pending: { id: unknown; settle: (err: RpcError | null, value?: unknown) => void } | undefined;

  function onMessage(buf: Buffer | null): void {
    const p = pending;
    if (!p || !buf) return; // nobody waiting: a late reply to a call that timed out
    if (buf.length >= DGRAM_MAX_REPLY_BYTES) {
      p.settle(badReply(display, `reply of ${DGRAM_MAX_REPLY_BYTES} bytes or more was cut off (one datagram)`, { bytes: buf.length }));
      return;
    }
    let value: unknown;
    try {
      value = parseJsonReply(buf, display);
    } catch (e) {
      p.settle(e as RpcError);
      return;
    }
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof value === 'object' && value !== null && id !== undefined && id !== p.id && (typeof id === 'number' || typeof id === 'string')) {
      return; // stale reply for an earlier call that timed out; keep waiting for ours
    }
    p.settle(null, value);
  }

  async function open(): Promise<UnixDgramSocket> {
    if (sock) return sock;
    opening ??= (async () => {
      const createSocket = await loadAddon(display);
      let target: Stats;
      try {
        target = statSync(path);
      } catch (e) {
        throw unreachable(display, errnoText(e), { cause: e, errno: (e as NodeJS.ErrnoException).code, hint: 'is Kamailio running with jsonrpcs dgram_socket set to this path?' });
      }
      if (!target.isSocket()) {
        throw new RpcError('RPC_BAD_URL', `${display} is not a socket`, { hint: 'point unix: at Kamailio\'s jsonrpcs dgram_socket or sipd\'s control socket', details: { url: display } });
      }
      const dir = mkdtempSync(join(opts.replyDir ?? tmpdir(), 'sipctl-rpc-'));
      replyDirPath = dir;
      liveReplyDirs.add(dir);
      const replyPath = join(dir, 'reply.sock');
      const s = createSocket('unix_dgram');
      let bindError: (Error & { code?: number }) | undefined;
      s.on('error', (e) => {
        bindError = e;
      });
      s.bind(replyPath); // emits 'error' synchronously on failure
      if (bindError) {
        try { s.close(); } catch { /* never opened */ }
        throw new RpcError('RPC_BAD_OPTION', `cannot bind a reply socket in ${dir}: ${errnoName(bindError)}`, { cause: bindError });
      }
      chmodSync(replyPath, 0o600);
      grantProxyAccess(dir, replyPath, target);
      s.on('message', onMessage);
      sock = s;
      return s;
    })();
    try {
      return await opening;
    } catch (e) {
      opening = undefined;
      cleanup();
      throw e;
    }
  }

  function cleanup(): void {
    if (sock) {
      try {
        sock.close();
      } catch {
        // already closed
      }
      sock = undefined;
    }
    if (replyDirPath) {
      rmSync(replyDirPath, { recursive: true, force: true });
      liveReplyDirs.delete(replyDirPath);
      replyDirPath = undefined;
    }
  }

  async function exchangeOnce(request: WireRequest, deadline: number, timeoutMs: number): Promise<unknown> {
    if (closed) throw new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed`);
    if (Date.now() >= deadline) throw timeoutError(display, timeoutMs, 'earlier calls on this socket used up the time');
    const s = await open();
    const bytes = Buffer.from(JSON.stringify(request), 'utf8');
    if (bytes.length > DGRAM_MAX_REQUEST_BYTES) {
      throw new RpcError('RPC_REQUEST_TOO_LARGE', `request for ${request.method} is ${bytes.length} bytes; Kamailio's datagram socket takes at most ${DGRAM_MAX_REQUEST_BYTES}`, {
        hint: 'use the HTTP interface for large requests',
        details: { url: display, bytes: bytes.length },
      });
    }
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let retry: NodeJS.Timeout | undefined;
      const settle = (err: RpcError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(retry);
        if (pending?.settle === settle) pending = undefined;
        if (err) reject(err);
        else resolve(value);
      };
      const timer = setTimeout(() => settle(timeoutError(display, timeoutMs, `the proxy may be stuck, or the reply was too large for one datagram (${TOO_BIG_HINT})`)), Math.max(0, deadline - Date.now()));
      pending = { id: request.id, settle };
      const send = (): void => {
        s.send(bytes, 0, bytes.length, path, (err) => {
          if (!err || settled) return;
          const code = errnoName(err);
          // The proxy's receive queue is full (busy): try again shortly, within the deadline.
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'ENOBUFS' || code === 'congestion') {
            retry = setTimeout(send, 5);
            return;
          }
          settle(sendError(code, err));
        });
      };
      send();
    });
  }

  function sendError(code: string, err: Error): RpcError {
    switch (code) {
      case 'ECONNREFUSED':
        return unreachable(display, 'nobody is listening on the socket (connection refused)', { cause: err, errno: code, hint: 'the socket file is left over from a proxy that is not running' });
      case 'ENOENT':
        return unreachable(display, 'no such socket (ENOENT)', { cause: err, errno: code });
      case 'EACCES':
      case 'EPERM':
        return unreachable(display, `permission denied (${code})`, { cause: err, errno: code, hint: 'run as root or as a member of the socket\'s group' });
      case 'EPROTOTYPE':
        return new RpcError('RPC_BAD_URL', `${display} is a stream socket, not a datagram socket`, { details: { url: display }, cause: err });
      case 'EMSGSIZE':
        return new RpcError('RPC_REQUEST_TOO_LARGE', `request too large for one datagram to ${display}`, { details: { url: display }, cause: err });
      default:
        return unreachable(display, code, { cause: err, errno: code });
    }
  }

  const calls = new SerialCalls(timeoutMs, exchangeOnce);

  return {
    exchange: (request, callTimeoutMs) => calls.exchange(request, callTimeoutMs),
    kind: () => 'unix-dgram',
    async close() {
      closed = true;
      pending?.settle(new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed`));
      await calls.idle();
      if (opening) await opening.catch(() => undefined); // its failure went to the call that opened; only wait for it
      cleanup();
    },
  };
}

type CreateSocket = typeof import('unix-dgram').createSocket;
let addon: Promise<CreateSocket> | undefined;

/** Load the optional native addon once; its absence is a usage error with a way out. */
async function loadAddon(display: string): Promise<CreateSocket> {
  addon ??= import('unix-dgram').then((m) => {
    const mod = (m as unknown as { default?: { createSocket?: CreateSocket }; createSocket?: CreateSocket });
    const fn = mod.createSocket ?? mod.default?.createSocket;
    if (typeof fn !== 'function') throw new Error('unix-dgram has no createSocket()');
    return fn;
  });
  try {
    return await addon;
  } catch (e) {
    addon = undefined;
    throw new RpcError('RPC_DGRAM_UNSUPPORTED', `${display} is a datagram socket, and the optional module unix-dgram that sipctl needs for it is not available (${(e as Error).message.split('\n')[0]})`, {
      hint: 'install sipctl with its optional dependencies (npm install unix-dgram), or use Kamailio\'s FIFO (fifo:/run/kamailio/kamailio_rpc.fifo) or HTTP interface (http://127.0.0.1:5071/RPC)',
      details: { url: display },
      cause: e,
    });
  }
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(OS.errno).map(([name, n]) => [n as number, name]));

/** unix-dgram reports errors as negative errno numbers (code 1 = congestion). */
function errnoName(e: { code?: unknown; errno?: unknown }): string {
  const code = typeof e.code === 'number' ? e.code : typeof e.errno === 'number' ? e.errno : undefined;
  if (code === 1) return 'congestion';
  if (code !== undefined) return ERRNO_NAMES.get(-code) ?? ERRNO_NAMES.get(code) ?? `errno ${code}`;
  return typeof e.code === 'string' ? e.code : 'unknown error';
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such socket (ENOENT)';
  if (code === 'EACCES') return 'permission denied (EACCES)';
  return code ?? (e as Error).message;
}

/**
 * Kamailio must be able to sendto() our reply socket. As root (the usual way to run admin
 * tools next to a proxy that dropped privileges), give the directory and socket to the owner of
 * Kamailio's socket: still private to that user. Otherwise, when Kamailio runs as another user
 * whose group we share, open them to that group only (dir 0710, socket 0620).
 */
function grantProxyAccess(dir: string, replyPath: string, target: Stats): void {
  const euid = process.geteuid?.();
  if (euid === undefined || target.uid === euid) return;
  try {
    if (euid === 0) {
      if (target.uid === 0) return;
      chownSync(dir, target.uid, target.gid);
      chownSync(replyPath, target.uid, target.gid);
      return;
    }
    chownSync(dir, euid, target.gid);
    chownSync(replyPath, euid, target.gid);
    chmodSync(dir, 0o710);
    chmodSync(replyPath, 0o620);
  } catch {
    // not in the proxy's group: stay private; a proxy that cannot answer times out with a hint
  }
}

/** Reply directories of open clients, removed at exit if close() never ran. */
const liveReplyDirs = new ExitCleanup((d) => rmSync(d, { recursive: true, force: true }));
