import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as FS, open as openCb, promises as fsp, unlinkSync, type Stats } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExitCleanup } from './exit-cleanup.js';
import { JsonReplyReader } from './json-frame.js';
import { SerialCalls } from './serial-calls.js';
import { RpcError, describeErrno, errnoCode, timeoutError, toTransportError, unreachable } from './rpc-error.js';
import type { RpcTransport, TransportOptions, WireRequest } from './transport.js';

const execFileP = promisify(execFile);
const openFd = promisify(openCb) as (path: string, flags: number) => Promise<number>;

export interface FifoTransportOptions extends TransportOptions {
  /** Kamailio's request FIFO (jsonrpcs `fifo_name`), e.g. /run/kamailio/kamailio_rpc.fifo. */
  path: string;
  /** Kamailio's jsonrpcs `fifo_reply_dir` (default /tmp): the only place it writes replies. */
  replyDir: string;
}

/**
 * Kamailio jsonrpcs reads at most 8191 bytes per document (JSONRPC_BUF_IN_SIZE - 1, counting the
 * newline left over from the previous writer); beyond that it drops the document half-read and
 * the rest of it wedges the FIFO. Refuse such requests before writing anything.
 */
export const FIFO_MAX_REQUEST_BYTES = 8189;

/**
 * JSON-RPC over Kamailio's jsonrpcs FIFO, the way kamctl does it (outputs/jsonrpc_fifo.sh):
 *
 *  1. open the request FIFO write-only and non-blocking: ENXIO means no proxy is reading it;
 *  2. mkfifo a reply FIFO `<replyDir>/sipctl_<pid>_<random>` with mode 0600. Kamailio only
 *     accepts a bare name in `reply_name` (it rejects '.', '/' and '\\') and prefixes its own
 *     `fifo_reply_dir`, so the reply FIFO cannot live in a private sub-directory;
 *  3. open the reply FIFO for reading *before* writing the request (Kamailio opens it
 *     non-blocking and gives up after ~320 ms if nobody reads it);
 *  4. write `{..., "reply_name": "<name>"}` plus "\n" to the request FIFO;
 *  5. read the reply until its JSON value is complete or Kamailio closes the FIFO;
 *  6. always close both and unlink the reply FIFO - on success, error and timeout.
 *
 * Calls through one client are serialized: the FIFO is one shared stream, and Kamailio answers
 * one document at a time anyway. timeoutMs bounds each call from the moment it is made,
 * including time spent waiting behind earlier calls.
 */
export function createFifoTransport(opts: FifoTransportOptions): RpcTransport {
  const { path, replyDir, display, timeoutMs } = opts;
  const active = new Set<(err: RpcError) => void>();
  const calls = new SerialCalls(timeoutMs, exchangeOnce);

  async function exchangeOnce(request: WireRequest, deadline: number, timeoutMs: number): Promise<unknown> {
    if (Date.now() >= deadline) throw timeoutError(display, timeoutMs, 'earlier calls on this FIFO used up the time');
    const name = `sipctl_${process.pid}_${randomBytes(8).toString('hex')}`;
    const doc = kamailioFifoJson({ ...request, reply_name: name });
    const bytes = Buffer.from(doc + '\n', 'utf8');
    if (bytes.length > FIFO_MAX_REQUEST_BYTES) {
      throw new RpcError('RPC_REQUEST_TOO_LARGE', `request for ${request.method} is ${bytes.length} bytes; Kamailio's jsonrpcs FIFO takes at most ${FIFO_MAX_REQUEST_BYTES}`, {
        hint: 'use the HTTP interface for large requests',
        details: { url: display, bytes: bytes.length },
      });
    }

    const req = await openRequestFifo(path, display);
    const replyPath = join(replyDir, name);
    liveReplyFifos.add(replyPath);
    let created = false;
    let reader: net.Socket | undefined;
    let cancelReply: (() => void) | undefined;
    try {
      await makeReplyFifo(replyPath, replyDir);
      created = true;
      await grantProxyAccess(replyPath, req.stat);
      // A raw fd, not a FileHandle: the socket below owns and closes it (a FileHandle would
      // close it a second time when garbage-collected).
      const readFd = await openFd(replyPath, FS.O_RDONLY | FS.O_NONBLOCK);
      // net.Socket over the FIFO's fd reads it through libuv's event loop (no thread-pool
      // thread blocked while we wait).
      reader = new net.Socket({ fd: readFd, readable: true, writable: false });
      const reply = readReply(reader, deadline, timeoutMs);
      cancelReply = reply.cancel;
      // The reply may fail (or arrive) while we are still writing: mark it handled now, it is
      // awaited below.
      reply.promise.catch(() => undefined);
      await writeAll(req.handle, bytes, deadline, display, timeoutMs);
      await req.handle.close();
      return await reply.promise;
    } finally {
      cancelReply?.();
      reader?.destroy();
      await req.handle.close().catch(() => undefined); // already closed on the success path
      liveReplyFifos.delete(replyPath);
      if (created) await fsp.unlink(replyPath).catch((e: unknown) => { if (errnoCode(e) !== 'ENOENT') throw toTransportError(e, display); });
    }
  }

  /** Wait for the reply; `cancel` stops the timer without settling (used when the write failed). */
  function readReply(sock: net.Socket, deadline: number, timeoutMs: number): { promise: Promise<unknown>; cancel: () => void } {
    let cancel = (): void => undefined;
    const promise = new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const reply = new JsonReplyReader(display);
      const finish = (err: RpcError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        active.delete(abort);
        if (err) reject(err);
        else resolve(value);
      };
      const abort = (err: RpcError): void => finish(err);
      active.add(abort);
      const timer = setTimeout(() => finish(timeoutError(display, timeoutMs,
        `a malformed request wedges Kamailio's jsonrpcs FIFO until a lone '}' is written to it; the proxy must also be able to write its reply in ${replyDir} (jsonrpcs fifo_reply_dir)`)),
      Math.max(0, deadline - Date.now()));
      sock.on('data', (chunk: Buffer) => {
        if (!settled) reply.feed(chunk, finish);
      });
      sock.on('end', () => {
        if (settled) return;
        if (reply.size === 0) finish(new RpcError('RPC_CONNECTION_LOST', `the proxy closed the reply FIFO of ${display} without writing a reply`, { details: { url: display } }));
        else reply.settle(finish);
      });
      sock.on('error', (e) => finish(toTransportError(e, display)));
      cancel = () => {
        settled = true;
        clearTimeout(timer);
        active.delete(abort);
      };
    });
    return { promise, cancel };
  }

  return {
    exchange: (request, callTimeoutMs) => calls.exchange(request, callTimeoutMs),
    kind: () => 'fifo',
    async close() {
      const err = new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed`);
      for (const abort of [...active]) abort(err);
      await calls.idle();
    },
  };
}

/** Reply FIFOs of calls in flight, removed from the shared reply directory if the process exits mid-call. */
const liveReplyFifos = new ExitCleanup(unlinkSync);

/**
 * JSON text that Kamailio's FIFO reader frames correctly. Its reader finds the end of a
 * document by counting braces outside strings, and treats any `"` preceded by a backslash as
 * escaped - so a string ending in a backslash (`"a\\"`) would never close and the FIFO would
 * wedge. Writing every escaped backslash as `\u005c` is the same JSON value without that
 * pattern. (Escape sequences are matched left to right, so `\\` pairs are never split.)
 */
export function kamailioFifoJson(value: unknown): string {
  return JSON.stringify(value).replace(/\\\\/g, '\\u005c');
}

async function openRequestFifo(path: string, display: string): Promise<{ handle: fsp.FileHandle; stat: Stats }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, FS.O_WRONLY | FS.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENXIO') {
      throw unreachable(display, 'no proxy is reading the FIFO', { cause: e, errno: code, hint: 'is Kamailio running with jsonrpcs loaded and fifo_name set to this path?' });
    }
    if (code === 'ENOENT') {
      throw unreachable(display, 'no such FIFO', { cause: e, errno: code, hint: 'is Kamailio running, and is this its jsonrpcs fifo_name?' });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw unreachable(display, `permission denied (${code})`, { cause: e, errno: code, hint: 'run as root or as a member of the FIFO\'s group' });
    }
    throw toTransportError(e, display);
  }
  const stat = await handle.stat();
  if (!stat.isFIFO()) {
    await handle.close();
    throw new RpcError('RPC_BAD_URL', `${display} is not a FIFO`, { hint: 'point fifo: at Kamailio\'s jsonrpcs fifo_name', details: { url: display } });
  }
  return { handle, stat };
}

async function makeReplyFifo(replyPath: string, replyDir: string): Promise<void> {
  try {
    // -m sets the mode exactly, independent of the umask; mkfifo fails if the name exists.
    await execFileP('mkfifo', ['-m', '600', replyPath], { timeout: 5000 });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim().split('\n')[0];
    const why = stderr || describeErrno(e);
    throw new RpcError('RPC_BAD_OPTION', `cannot create a reply FIFO in ${replyDir}: ${why}`, {
      hint: 'the reply directory must exist, be writable by you, and equal Kamailio\'s jsonrpcs fifo_reply_dir (default /tmp)',
      cause: e,
    });
  }
}

/**
 * The reply FIFO is 0600 and ours; Kamailio must be able to open it for writing. Kamailio
 * creates its request FIFO after dropping privileges, so that FIFO's owner is the proxy's user:
 * as root, hand the reply FIFO to that user (still 0600); otherwise, if we are in the FIFO's
 * group, give that group write access (0620). Anything else stays 0600; if the proxy then
 * cannot answer, the call times out with a hint naming the reply directory.
 */
async function grantProxyAccess(replyPath: string, fifo: Stats): Promise<void> {
  const euid = process.geteuid?.();
  if (euid === undefined || fifo.uid === euid || fifo.uid === 0) return;
  if (euid === 0) {
    await fsp.chown(replyPath, fifo.uid, fifo.gid);
    return;
  }
  try {
    await fsp.chown(replyPath, euid, fifo.gid);
    await fsp.chmod(replyPath, 0o620);
  } catch (e) {
    if (errnoCode(e) !== 'EPERM') throw e;
    // not a member of the proxy's group: keep 0600 (see above)
  }
}

async function writeAll(handle: fsp.FileHandle, bytes: Buffer, deadline: number, display: string, timeoutMs: number): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    try {
      const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    } catch (e) {
      const code = errnoCode(e);
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
        if (code === 'EPIPE') throw unreachable(display, 'the proxy stopped reading the FIFO', { cause: e, errno: code });
        throw toTransportError(e, display);
      }
      // The FIFO is full: the proxy is not draining it (busy, or wedged by a malformed request).
      if (Date.now() >= deadline) throw timeoutError(display, timeoutMs, 'the FIFO is full: the proxy is not reading it');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
