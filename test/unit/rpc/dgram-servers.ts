/**
 * A fake Kamailio jsonrpcs datagram socket, built on the same native addon sipctl uses:
 * it receives a request datagram and answers to the sender's bound path, as Kamailio does.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface DgramSeen {
  json: any;
  from: string | undefined;
}

export type DgramAnswer = Buffer | Buffer[] | 'ignore';

export interface FakeDgramServer {
  path: string;
  seen: DgramSeen[];
  close(): void;
}

export function haveUnixDgram(): boolean {
  try {
    require('unix-dgram');
    return true;
  } catch {
    return false;
  }
}

export function startFakeDgramServer(path: string, answer: (req: DgramSeen) => DgramAnswer): FakeDgramServer {
  const unix = require('unix-dgram');
  const seen: DgramSeen[] = [];
  const sock = unix.createSocket('unix_dgram', (buf: Buffer, rinfo: { path?: string }) => {
    let json: any;
    try { json = JSON.parse(buf.toString('utf8')); } catch { json = undefined; }
    const req = { json, from: rinfo?.path };
    seen.push(req);
    const a = answer(req);
    if (a === 'ignore' || !rinfo?.path) return;
    for (const b of Array.isArray(a) ? a : [a]) sock.send(b, 0, b.length, rinfo.path, () => undefined);
  });
  sock.bind(path);
  return { path, seen, close: () => sock.close() };
}
