import net from 'node:net';
import { RpcError, errnoCode, timeoutError, toTransportError } from './rpc-error.js';
import { JsonReplyReader } from './json-frame.js';
import type { RpcTransport, TransportOptions, WireRequest } from './transport.js';

export interface UnixTransportOptions extends TransportOptions {
  path: string;
  /** For a datagram socket: where the private reply socket directory is made (default: OS temp dir). */
  dgramReplyDir?: string;
}

/**
 * `unix:/path` reaches either kind of unix socket:
 *  - a STREAM socket (sipd's control socket): createStreamTransport below;
 *  - Kamailio's jsonrpcs DATAGRAM socket (`dgram_socket`, what `kamcmd -j` and kamcli use):
 *    dgram-transport.ts.
 * The type cannot be seen from the file, so the first call connects as a stream; a datagram
 * socket refuses that at once with EPROTOTYPE, and from then on this client speaks datagrams.
 */
export function createUnixTransport(opts: UnixTransportOptions): RpcTransport {
  const stream = createStreamTransport(opts);
  /** One datagram transport per client, however many first calls find out at once. */
  let dgram: Promise<RpcTransport> | undefined;
  let mode: 'unknown' | 'stream' | 'dgram' = 'unknown';

  async function viaDgram(request: WireRequest, timeoutMs?: number): Promise<unknown> {
    dgram ??= import('./dgram-transport.js').then(({ createDgramTransport }) =>
      createDgramTransport({ path: opts.path, display: opts.display, timeoutMs: opts.timeoutMs, replyDir: opts.dgramReplyDir }));
    return (await dgram).exchange(request, timeoutMs);
  }

  return {
    async exchange(request: WireRequest, timeoutMs?: number): Promise<unknown> {
      if (mode === 'dgram') return viaDgram(request, timeoutMs);
      try {
        const reply = await stream.exchange(request, timeoutMs);
        mode = 'stream';
        return reply;
      } catch (e) {
        if (e instanceof RpcError && e.code === 'RPC_DGRAM_UNSUPPORTED' && mode !== 'stream') {
          mode = 'dgram';
          return viaDgram(request, timeoutMs);
        }
        throw e;
      }
    },
    kind: () => (mode === 'dgram' ? 'unix-dgram' : mode === 'stream' ? 'unix-stream' : 'unix'),
    async close() {
      await stream.close();
      if (dgram) await (await dgram).close();
    },
  };
}

/**
 * JSON-RPC over a STREAM unix socket: the protocol of sipd's control socket.
 *
 * Framing: one connection per call; the client writes the request JSON followed by "\n"; the
 * server writes one JSON-RPC response (compact or pretty-printed, a trailing "\n" is customary)
 * and may close the connection. The reply is complete when its top-level JSON value closes
 * (JsonFrameScanner) or at end of stream, whichever comes first.
 *
 * A stream connect() to a DATAGRAM socket fails with EPROTOTYPE: reported as
 * RPC_DGRAM_UNSUPPORTED, which createUnixTransport takes as the cue to switch to datagrams.
 */
function createStreamTransport(opts: UnixTransportOptions): RpcTransport {
  const { path, display } = opts;
  /** In-flight exchanges: close() fails them at once instead of leaving them to time out. */
  const open = new Map<net.Socket, (err: RpcError) => void>();

  function exchange(request: WireRequest, callTimeoutMs?: number): Promise<unknown> {
    const timeoutMs = callTimeoutMs ?? opts.timeoutMs;
    const body = JSON.stringify(request);
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const reply = new JsonReplyReader(display);
      const sock = net.createConnection({ path });
      const finish = (err: RpcError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        open.delete(sock);
        sock.destroy();
        if (err) reject(err);
        else resolve(value);
      };
      const timer = setTimeout(() => finish(timeoutError(display, timeoutMs)), timeoutMs);
      open.set(sock, (err) => finish(err));

      sock.on('connect', () => sock.write(body + '\n'));
      sock.on('data', (chunk: Buffer) => reply.feed(chunk, finish));
      sock.on('end', () => {
        if (settled) return;
        if (reply.size === 0) finish(new RpcError('RPC_CONNECTION_LOST', `${display} closed the connection without a reply`, { details: { url: display } }));
        else reply.settle(finish); // parse what came; an incomplete value becomes RPC_BAD_REPLY
      });
      sock.on('error', (e) => {
        if (errnoCode(e) === 'EPROTOTYPE') {
          finish(new RpcError('RPC_DGRAM_UNSUPPORTED', `${display} is a datagram socket (Kamailio's jsonrpcs dgram_socket); sipctl speaks stream sockets only on unix:`, {
            hint: 'use Kamailio\'s FIFO (fifo:/run/kamailio/kamailio_rpc.fifo) or its HTTP interface (http://127.0.0.1:5071/RPC) instead',
            details: { url: display },
            cause: e,
          }));
          return;
        }
        finish(toTransportError(e, display));
      });
    });
  }

  return {
    exchange,
    async close() {
      const err = new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed`);
      for (const abort of [...open.values()]) abort(err);
    },
  };
}
