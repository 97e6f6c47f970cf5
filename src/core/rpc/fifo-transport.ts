import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as FS, open as openCb, unlinkSync, writeSync, type Stats } from 'node:fs';
// A namespace, not fs.promises: the bundle loads node:fs/promises (nine built-in modules) on first use (issue 15).
import * as fsp from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SipctlError } from '../errors.js';
import { ExitCleanup } from './exit-cleanup.js';
import { JsonFrameScanner } from './json-frame.js';
import { RpcError, badReply, describeErrno, errnoCode, timeoutError, toTransportError, unreachable } from './rpc-error.js';
import { parseJsonReply, type RpcTransport, type TransportOptions, type WireRequest } from './transport.js';

// Read on first use, not at load: in the bundle node:child_process loads when first touched
// (scripts/bundle.mjs), and most runs of sipctl never make a reply FIFO.
const execFileP = (...args: Parameters<typeof execFile.__promisify__>) => promisify(execFile)(...args);
const openFd = promisify(openCb) as (path: string, flags: number) => Promise<number>;

export interface FifoTransportOptions extends TransportOptions {
  /** Kamailio's request FIFO (jsonrpcs `fifo_name`), e.g. /run/kamailio/kamailio_rpc.fifo. */
  path: string;
  /** Kamailio's jsonrpcs `fifo_reply_dir` (default /tmp): the only place it writes replies. */
  replyDir: string;
}

/**
 * Kamailio jsonrpcs reads at most 8191 bytes per document (JSONRPC_BUF_IN_SIZE - 1, counting the
 * newline left over from the previous document); beyond that it drops the document half-read and
 * the rest of it wedges the FIFO. Refuse such requests before writing anything.
 */
export const FIFO_MAX_REQUEST_BYTES = 8189;

const WEDGED_HINT = (replyDir: string) =>
  `a malformed request wedges Kamailio's jsonrpcs FIFO until a lone '}' is written to it; the proxy must also be able to write its reply in ${replyDir} (jsonrpcs fifo_reply_dir)`;

/**
 * JSON-RPC over Kamailio's jsonrpcs FIFO (kamctl's transport), pipelined.
 *
 * How Kamailio's FIFO process works (jsonrpcs_fifo.c): one process reads the request FIFO through
 * a stdio stream, one JSON document at a time (braces counted outside strings), runs it, then
 * opens `<fifo_reply_dir>/<reply_name>` non-blocking for writing (retrying for ~320 ms while no
 * reader is there), writes the whole reply and closes it. It keeps no state between documents,
 * so several documents may be in the FIFO at once and are answered in order.
 *
 * kamctl pays for a new reply FIFO and a `mkfifo` process per call (≈15 ms). This client makes
 * one reply FIFO per client, `<replyDir>/sipctl_<pid>_<random>` (mode 0600; Kamailio only
 * accepts a bare name and prefixes its own `fifo_reply_dir`, so it cannot live in a private
 * sub-directory), keeps it open for reading for the client's life, and also holds a write end
 * of it itself so that Kamailio closing its end after each reply is not an end-of-file. Replies
 * are framed by their JSON structure and matched to calls by id. Requests are written as soon as
 * they are made, by one writer, with non-blocking writes from the event loop (no thread-pool
 * round trip per request; documents waiting together share one write of at most PIPE_BUF bytes),
 * so `batch` and concurrent calls are pipelined.
 *
 * Kamailio runs the documents in order and answers each that it could execute: when a reply
 * arrives, calls sent before it that are still waiting will get none (their document could not
 * be executed) and fail at once. A reply whose call already timed out is recognised by its id
 * and dropped. Garbage on the reply FIFO or an I/O error fails the calls in flight and the
 * reply FIFO is replaced for the next call. close() (and, failing that, process exit) removes it.
 */
export function createFifoTransport(opts: FifoTransportOptions): RpcTransport {
  const { path, replyDir, display, timeoutMs } = opts;
  let request: RequestFifo | undefined;
  let channel: Promise<ReplyChannel> | undefined;
  let closed = false;
  /** A reply FIFO dropped mid-session (dropChannel) that could not be removed: close() reports it. */
  let leftBehind: unknown;
  /** Calls waiting for a reply, in the order their requests were written. */
  const waiting: Pending[] = [];
  const pendingAll = new Set<Pending>();

  interface Pending {
    id: unknown;
    resolve: (v: unknown) => void;
    reject: (e: RpcError) => void;
    timer: NodeJS.Timeout;
  }

  function settle(p: Pending, err: RpcError | null, value?: unknown): void {
    if (!pendingAll.delete(p)) return;
    clearTimeout(p.timer);
    const i = waiting.indexOf(p);
    if (i >= 0) waiting.splice(i, 1);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  function failAll(err: RpcError): void {
    for (const p of [...pendingAll]) settle(p, err);
  }

  /** One complete JSON value arrived on the reply FIFO. */
  function onReply(body: Buffer): void {
    let value: unknown;
    try {
      value = parseJsonReply(body, display);
    } catch (e) {
      const err = toTransportError(e, display);
      const head = waiting[0];
      if (head) settle(head, err);
      return;
    }
    const id = (value as { id?: unknown } | null)?.id;
    const at = id === undefined || id === null ? (waiting.length ? 0 : -1) : waiting.findIndex((p) => p.id === id);
    if (at < 0) return; // the reply to a call that already timed out
    // Kamailio answers in order: calls written before this one will get no reply.
    for (const p of waiting.slice(0, at)) {
      settle(p, new RpcError('RPC_CONNECTION_LOST', `${display} did not answer this request (the proxy could not execute it) and went on with the next`, { details: { url: display } }));
    }
    settle(waiting[0]!, null, value);
  }

  function dropChannel(err: RpcError): void {
    const c = channel;
    channel = undefined;
    failAll(err);
    // an open that failed has no FIFO to close (its error went to the calls that waited for it)
    void c?.then((ch) => ch.close(), () => undefined).catch((e: unknown) => (leftBehind ??= e));
  }

  function openChannel(stat: Stats): Promise<ReplyChannel> {
    channel ??= ReplyChannel.open(replyDir, stat, display, onReply, (err) => dropChannel(err));
    const c = channel;
    // a failed open reaches the calls through `c` itself; here it only makes the next call open anew
    c.catch(() => { if (channel === c) channel = undefined; });
    return c;
  }

  /** Documents not written yet, in call order (the text without its reply_name). */
  const queue: Array<{ p: Pending; text: string; deadline: number; timeoutMs: number }> = [];
  /** The one writer (see pump), while it runs. */
  let pumping: Promise<void> | undefined;

  /**
   * Writes the queued documents, one writer at a time (each must reach the FIFO in one piece).
   * Documents waiting together go out in one write of at most PIPE_BUF bytes, which the kernel
   * keeps whole even when another process (kamctl, another sipctl) writes to the FIFO too; a
   * larger document goes alone. Runs without waiting unless the FIFO must be opened or is full.
   */
  async function pump(): Promise<void> {
    while (queue.length > 0 && !closed) {
      const head = queue[0]!;
      if (!pendingAll.has(head.p)) {
        queue.shift(); // timed out meanwhile
        continue;
      }
      let ch: ReplyChannel;
      try {
        request ??= await RequestFifo.open(path, display);
        ch = await openChannel(request.stat);
      } catch (e) {
        queue.shift();
        await dropRequest();
        settle(head.p, e instanceof RpcError ? e : toTransportError(e, display));
        continue;
      }
      const chunk: Array<(typeof queue)[number]> = [];
      let bytes = 0;
      let text = '';
      while (queue.length > 0) {
        const d = queue[0]!;
        if (!pendingAll.has(d.p)) {
          queue.shift();
          continue;
        }
        if (Date.now() >= d.deadline) {
          queue.shift();
          settle(d.p, timeoutError(display, d.timeoutMs, 'earlier calls on this FIFO used up the time'));
          continue;
        }
        // the reply_name member goes last; the name needs no escaping
        const doc = `${d.text.slice(0, -1)},"reply_name":"${ch.name}"}\n`;
        const n = Buffer.byteLength(doc, 'utf8');
        if (chunk.length > 0 && bytes + n > PIPE_BUF) break;
        queue.shift();
        chunk.push(d);
        bytes += n;
        text += doc;
        if (bytes >= PIPE_BUF) break;
      }
      if (chunk.length === 0) continue;
      for (const d of chunk) waiting.push(d.p);
      try {
        const more = request.write(Buffer.from(text, 'utf8'), chunk[0]!.deadline, chunk[0]!.timeoutMs, () => closed);
        if (more) await more;
      } catch (e) {
        // A proxy that went away: the next call opens the FIFO again (and finds out whether it is back).
        await dropRequest();
        const err = e instanceof RpcError ? e : toTransportError(e, display);
        for (const d of chunk) settle(d.p, err);
      }
    }
  }

  async function dropRequest(): Promise<void> {
    const r = request;
    request = undefined;
    await r?.close();
  }

  return {
    exchange(req: WireRequest, callTimeoutMs?: number): Promise<unknown> {
      if (closed) return Promise.reject(new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed`));
      const t = callTimeoutMs ?? timeoutMs;
      const deadline = Date.now() + t;
      const text = kamailioFifoJson(req);
      // The reply FIFO's name has a fixed length: the size is known before anything exists.
      const size = Buffer.byteLength(text, 'utf8') + REPLY_MEMBER_BYTES + 1;
      if (size > FIFO_MAX_REQUEST_BYTES) {
        return Promise.reject(new RpcError('RPC_REQUEST_TOO_LARGE', `request for ${req.method} is ${size} bytes; Kamailio's jsonrpcs FIFO takes at most ${FIFO_MAX_REQUEST_BYTES}`, {
          hint: 'use the HTTP interface for large requests',
          details: { url: display, bytes: size },
        }));
      }
      return new Promise<unknown>((resolve, reject) => {
        const p: Pending = {
          id: req.id,
          resolve,
          reject,
          timer: setTimeout(() => settle(p, timeoutError(display, t, WEDGED_HINT(replyDir))), t),
        };
        pendingAll.add(p);
        queue.push({ p, text, deadline, timeoutMs: t });
        pumping ??= pump().finally(() => (pumping = undefined));
      });
    },
    kind: () => 'fifo',
    async close() {
      closed = true;
      await pumping; // a write waiting on a full FIFO gives up at once (it checks `closed`)
      const c = channel;
      channel = undefined;
      try {
        // an open that failed has no FIFO to close (its error went to the calls that waited for it)
        await c?.then((ch) => ch.close(), () => undefined);
      } finally {
        await dropRequest();
        failAll(new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed`));
      }
      if (leftBehind !== undefined) throw leftBehind;
    },
  };
}

/** `sipctl_<pid>_<16 hex>`: fixed length, so a request's size is known before the FIFO exists. */
const REPLY_NAME_LENGTH = `sipctl_${process.pid}_`.length + 16;
/** `,"reply_name":"<name>"`, added to each document. */
const REPLY_MEMBER_BYTES = ',"reply_name":""'.length + REPLY_NAME_LENGTH;
/** Linux's PIPE_BUF: a write to a FIFO up to this size is never interleaved with another writer's. */
const PIPE_BUF = 4096;

/** Reply FIFOs that exist, removed from the shared reply directory if the process exits without close(). */
const liveReplyFifos = new ExitCleanup(unlinkSync);

/** Kamailio's request FIFO, opened for writing once per client. */
class RequestFifo {
  private constructor(private readonly handle: fsp.FileHandle, readonly stat: Stats, private readonly display: string) {}

  static async open(path: string, display: string): Promise<RequestFifo> {
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
    return new RequestFifo(handle, stat, display);
  }

  /**
   * Writes `bytes` whole. The FIFO is non-blocking: this returns undefined when it took them at
   * once (the usual case), else a promise that retries every millisecond while the proxy is not
   * draining it (busy, or wedged by a malformed request), until the deadline.
   */
  write(bytes: Buffer, deadline: number, timeoutMs: number, cancelled: () => boolean): Promise<void> | undefined {
    let off = this.writeSome(bytes, 0);
    if (off === bytes.length) return undefined;
    return (async () => {
      while (off < bytes.length) {
        if (cancelled()) throw new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${this.display} was closed`);
        if (Date.now() >= deadline) throw timeoutError(this.display, timeoutMs, 'the FIFO is full: the proxy is not reading it');
        await new Promise((r) => setTimeout(r, 1));
        off = this.writeSome(bytes, off);
      }
    })();
  }

  /** Writes what the FIFO takes now; returns the new offset. */
  private writeSome(bytes: Buffer, off: number): number {
    try {
      return off + writeSync(this.handle.fd, bytes, off, bytes.length - off);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return off;
      if (code === 'EPIPE') throw unreachable(this.display, 'the proxy stopped reading the FIFO', { cause: e, errno: code });
      throw toTransportError(e, this.display);
    }
  }

  async close(): Promise<void> {
    // close(2) releases the descriptor on Linux even when it reports an error, and nothing was
    // written by it (every write went out with writeSync): nothing is left to report or retry.
    await this.handle.close().catch(() => undefined);
  }
}

/**
 * The client's reply FIFO: read for the client's life, its JSON values handed to `onValue` one
 * by one. We hold a write end ourselves, so the reader never sees end-of-file when Kamailio
 * closes its end after a reply.
 */
class ReplyChannel {
  private scanner = new JsonFrameScanner();
  private chunks: Buffer[] = [];
  private size = 0;
  private done = false;

  private constructor(
    readonly name: string,
    private readonly path: string,
    private readonly reader: net.Socket,
    private readonly holdFd: number,
    private readonly display: string,
    private readonly onValue: (body: Buffer) => void,
    private readonly onFailure: (err: RpcError) => void,
  ) {
    reader.on('data', (chunk: Buffer) => this.feed(chunk));
    reader.on('error', (e) => this.fail(toTransportError(e, display)));
    reader.on('end', () => this.fail(new RpcError('RPC_CONNECTION_LOST', `the reply FIFO of ${display} was closed`, { details: { url: display } })));
  }

  static async open(replyDir: string, fifo: Stats, display: string, onValue: (body: Buffer) => void, onFailure: (err: RpcError) => void): Promise<ReplyChannel> {
    const name = `sipctl_${process.pid}_${randomBytes(8).toString('hex')}`;
    const path = join(replyDir, name);
    liveReplyFifos.add(path);
    try {
      await makeReplyFifo(path, replyDir);
      await grantProxyAccess(path, fifo);
      // Raw fds, not FileHandles: the socket owns and closes the read end (a FileHandle would
      // close it a second time when garbage-collected). Read end first: opening a FIFO's write
      // end non-blocking fails while nobody reads it.
      const readFd = await openFd(path, FS.O_RDONLY | FS.O_NONBLOCK);
      const holdFd = await openFd(path, FS.O_WRONLY | FS.O_NONBLOCK);
      // net.Socket over the FIFO's fd reads it through libuv's event loop (no thread-pool
      // thread blocked while we wait).
      const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
      // An idle client must not keep the process alive; a call in flight has its timer for that.
      reader.unref();
      return new ReplyChannel(name, path, reader, holdFd, display, onValue, onFailure);
    } catch (e) {
      // The open's own error is what the call reports; a FIFO that cannot be removed now stays
      // listed for the exit hook (ENOENT: it was never made).
      await fsp.unlink(path).then(() => liveReplyFifos.delete(path), (u: unknown) => errnoCode(u) === 'ENOENT' && liveReplyFifos.delete(path));
      throw e;
    }
  }

  private feed(chunk: Buffer): void {
    while (chunk.length > 0 && !this.done) {
      let end: number;
      try {
        end = this.scanner.push(chunk);
      } catch (e) {
        this.fail(badReply(this.display, (e as Error).message));
        return;
      }
      const part = end < 0 ? chunk : chunk.subarray(0, end);
      this.chunks.push(part);
      this.size += part.length;
      if (end < 0) return;
      const body = Buffer.concat(this.chunks, this.size);
      this.chunks = [];
      this.size = 0;
      this.scanner = new JsonFrameScanner();
      this.onValue(body);
      chunk = chunk.subarray(end);
      // what separates two replies (Kamailio adds none; a newline would be skipped by the scanner)
      let i = 0;
      while (i < chunk.length && (chunk[i] === 0x0a || chunk[i] === 0x0d || chunk[i] === 0x20 || chunk[i] === 0x09)) i++;
      chunk = chunk.subarray(i);
    }
  }

  private fail(err: RpcError): void {
    if (this.done) return;
    this.onFailure(err);
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.reader.destroy();
    try {
      closeSync(this.holdFd);
    } catch {
      // already closed
    }
    try {
      await fsp.unlink(this.path);
    } catch (e) {
      // Left listed, so the exit hook tries once more; the caller's close() reports it.
      if (errnoCode(e) !== 'ENOENT') throw new SipctlError('RPC_REPLY_FIFO_LEFT', `the reply FIFO ${this.path} of ${this.display} could not be removed (${errnoCode(e) ?? (e as Error).message})`, { hint: 'remove it by hand', cause: e });
    }
    liveReplyFifos.delete(this.path);
  }
}

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
