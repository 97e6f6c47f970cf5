/**
 * Raw UDP SIP for process tests that need every datagram in hand (a retransmission sent byte for
 * byte, calls fired at once): a caller that answers sipd's 407 with digest credentials and ACKs
 * final responses, and a trunk that answers every INVITE with 486 Busy Here and keeps what it got.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { until } from '../helpers/until.js';
import { digestCredentials, header } from './sip-message.js';
import { statusOf } from './sipd-process.js';

export interface Peer {
  address: string;
  port: number;
  /** every datagram received, in order */
  got: string[];
  send(text: string, port: number, host?: string): void;
  close(): void;
}

export async function udpPeer(address: string, port = 0, onMessage?: (text: string, from: { address: string; port: number }, peer: Peer) => void): Promise<Peer> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address, port }, () => r()));
  const got: string[] = [];
  const peer: Peer = {
    address,
    port: sock.address().port,
    got,
    send: (text, p, host = '127.0.0.1') => sock.send(text, p, host),
    close: () => sock.close(),
  };
  sock.on('message', (m, rinfo) => {
    const text = m.toString('latin1');
    got.push(text);
    onMessage?.(text, rinfo, peer);
  });
  return peer;
}

/**
 * A trunk on `address` that answers every INVITE at once with `status` ('486 Busy Here'; '100
 * Trying' and nothing more keeps the call open), a final answer with a To tag added; ACKs taken
 * silently; `invites` holds each INVITE datagram it got (retransmissions included).
 */
export async function answeringTrunk(address: string, status: string, port = 0): Promise<Peer & { invites: string[] }> {
  const invites: string[] = [];
  const final = Number(status.slice(0, 3)) >= 200;
  const peer = await udpPeer(address, port, (text, from, p) => {
    if (!text.startsWith('INVITE ')) return;
    invites.push(text);
    const head = text.split('\r\n\r\n')[0]!.split('\r\n');
    const keep = head.filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l)).map((l) => (final && /^to\s*:/i.test(l) && !/;\s*tag=/i.test(l) ? `${l};tag=trunk${randomBytes(3).toString('hex')}` : l));
    p.send([`SIP/2.0 ${status}`, ...keep, 'Content-Length: 0', '', ''].join('\r\n'), from.port, from.address);
  });
  return Object.assign(peer, { invites });
}

/** A trunk on `address` that answers every INVITE with 486 Busy Here (answeringTrunk). */
export const busyTrunk = (address: string, port = 0) => answeringTrunk(address, '486 Busy Here', port);

/** One INVITE transaction a caller sends: its text (to send again byte for byte) and its replies. */
export interface InviteTx {
  text: string;
  branch: string;
  cseq: number;
  replies(): string[];
  /** the first final response, once there is one */
  final(): string | undefined;
}

/**
 * An ACK of a non-2xx final response (§17.1.1.3) or a CANCEL (§9.1) of the INVITE `tx`: its
 * Request-URI, top Via (same branch), From, Call-ID and CSeq number; To as given (the response's
 * for an ACK, the INVITE's for a CANCEL).
 */
function sameTransaction(tx: InviteTx, method: 'ACK' | 'CANCEL', to: string): string {
  return [
    `${method} ${tx.text.slice(7, tx.text.indexOf(' SIP/2.0'))} SIP/2.0`,
    `Via: ${header(tx.text, 'via')}`,
    'Max-Forwards: 70',
    `From: ${header(tx.text, 'from')}`,
    `To: ${to}`,
    `Call-ID: ${header(tx.text, 'call-id')}`,
    `CSeq: ${tx.cseq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * A caller on `peer` (127.0.0.x), From `user@fromHost` (a domain of sipd's: a local caller, digest
 * in `realm`): calls `dialled` (a Request-URI) through sipd at `proxy`. Each
 * call is a new Call-ID: the INVITE, the 407, then the INVITE with credentials (`prepare` only
 * builds it, so a test can send it and its copies itself). Final responses are ACKed (a non-2xx
 * ACK, hop by hop: same branch).
 */
export function caller(peer: Peer, proxy: { host: string; port: number }, who: { user: string; fromHost: string; password: string }) {
  const { user, fromHost, password } = who;
  /** responses to the transaction `branch` of `method` (a CANCEL shares its INVITE's branch) */
  const byBranch = (branch: string, method = 'INVITE') => peer.got.filter((g) => statusOf(g) !== undefined && header(g, 'via')?.includes(`branch=${branch}`) && header(g, 'cseq')?.endsWith(` ${method}`));
  const acked = new Set<string>();
  const invite = (dialled: string, callId: string, fromTag: string, cseq: number, extra: string[] = []) => {
    const branch = `z9hG4bK-${randomBytes(6).toString('hex')}`;
    const text = [
      `INVITE ${dialled} SIP/2.0`,
      `Via: SIP/2.0/UDP ${peer.address}:${peer.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${user}@${fromHost}>;tag=${fromTag}`,
      `To: <${dialled}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      `Contact: <sip:${user}@${peer.address}:${peer.port}>`,
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const tx: InviteTx = {
      text,
      branch,
      cseq,
      replies: () => byBranch(branch),
      final: () => byBranch(branch).find((r) => (statusOf(r) ?? 0) >= 200),
    };
    return tx;
  };
  const ack = (tx: InviteTx, res: string) => {
    if (acked.has(tx.branch)) return;
    acked.add(tx.branch);
    peer.send(sameTransaction(tx, 'ACK', header(res, 'to')!), proxy.port, proxy.host);
  };
  return {
    /** the challenge round: the authenticated INVITE to send (not sent yet) */
    async prepare(dialled: string): Promise<InviteTx> {
      const callId = `${randomBytes(8).toString('hex')}@raw-sip`;
      const fromTag = randomBytes(4).toString('hex');
      const first = invite(dialled, callId, fromTag, 1);
      peer.send(first.text, proxy.port, proxy.host);
      const challenge = await until(`407 for ${callId}`, () => first.final(), 15_000);
      ack(first, challenge);
      if (statusOf(challenge) !== 407) throw new Error(`expected 407, got: ${challenge}`);
      return invite(dialled, callId, fromTag, 2, [`Proxy-Authorization: ${digestCredentials(header(challenge, 'Proxy-Authenticate') ?? '', user, password, 'INVITE', dialled)}`]);
    },
    send(tx: InviteTx): void {
      peer.send(tx.text, proxy.port, proxy.host);
    },
    /** CANCEL the INVITE (§9.1: same Request-URI, Call-ID, From, To, CSeq number, top Via); its final response, once there is one */
    cancel(tx: InviteTx): () => string | undefined {
      peer.send(sameTransaction(tx, 'CANCEL', header(tx.text, 'to')!), proxy.port, proxy.host);
      return () => byBranch(tx.branch, 'CANCEL').find((r) => (statusOf(r) ?? 0) >= 200);
    },
    /** waits for the final response and ACKs it; its status */
    async finish(tx: InviteTx, ms = 20_000): Promise<number> {
      const res = await until(`final response to ${tx.branch}`, () => tx.final(), ms);
      ack(tx, res);
      return statusOf(res)!;
    },
  };
}

/**
 * One command to a test's own Redis (inline protocol): a one-line reply as it came (`+OK`,
 * `:1`), a bulk reply's text (INFO).
 */
export function redisCommand(port: number, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let out = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(`${cmd}\r\n`));
    c.on('data', (d) => {
      out += d;
      const eol = out.indexOf('\r\n');
      if (eol === -1) return;
      if (out.startsWith('$')) {
        const len = Number(out.slice(1, eol));
        if (len >= 0 && Buffer.byteLength(out) < eol + 2 + len + 2) return;
        c.end();
        return resolve(len < 0 ? '' : out.slice(eol + 2, eol + 2 + len));
      }
      c.end();
      resolve(out.trim());
    });
    c.on('error', reject);
  });
}
