/**
 * SIP over TLS (RFC 3261 §26.3.1, "sips"/transport=tls; port 5061 by default): a TLS server whose
 * decrypted connections are served exactly like TCP ones (stream.ts: Content-Length framing, the
 * per-source and total caps, idle and slow-sender timeouts, the write backlog). Replies go back
 * on the same TLS connection.
 *
 * Order on a new connection:
 *  1. TCP accept: the ban check and the connection caps (stream.ts ConnectionTable) — a banned
 *     or capped source costs no handshake;
 *  2. the handshake, within `handshakeTimeoutMs`; a failed or garbage handshake closes the
 *     connection (reported through onClose, never thrown);
 *  3. the client certificate: requested when `requestClientCert`; missing while
 *     `requireClientCert` → closed; presented but not chaining to the CA file while
 *     `verifyClientCert` → closed. OpenSSL's own rejectUnauthorized is not used, so every
 *     refusal has a reason in the log;
 *  4. SIP: every message carries the peer certificate's subject (Inbound.tlsPeer), for policy.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { ConfigError } from '../../core/errors.js';
import type { Endpoint, TlsPeer } from '../kernel/contracts.js';
import { ConnectionTable, bindStreamServer, serveStream, streamCloser, type StreamOptions } from './stream.js';
import { type ListenAddress, type MessageHandler, type SipTransport, normaliseIp } from './transport.js';

/** PEM material, read from the configured files. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  /** CA certificates client certificates are verified against */
  ca?: Buffer;
}

export interface TlsSettings {
  credentials: TlsCredentials;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  /** ask the client for a certificate (implied by the two below and by CN policy) */
  requestClientCert: boolean;
  /** a client without a certificate is refused */
  requireClientCert: boolean;
  /** a client certificate must chain to `credentials.ca` */
  verifyClientCert: boolean;
  handshakeTimeoutMs: number;
}

export interface TlsOptions extends StreamOptions {
  tls: TlsSettings;
}

export interface TlsTransport extends SipTransport {
  connections(): { total: number; sources: number; writers: number };
  /** send on the open TLS connection from `to` (e.g. a request to a client registered over it); false when there is none */
  sendTo(to: { ip: string; port: number }, data: Buffer): boolean;
  /** new certificate/key/CA for connections from now on (SIGHUP); throws ConfigError when unusable */
  setCredentials(credentials: TlsCredentials): void;
}

export interface TlsFiles {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError('TLS_FILE_UNREADABLE', `tls.${what}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Read the certificate, key and CA files and check they make a usable server identity (the key
 * matches the certificate, the PEM parses). Throws ConfigError naming the file. `warn` is told
 * when the key file can be read by group or others.
 */
export function loadTlsCredentials(files: TlsFiles, warn?: (msg: string, fields: Record<string, unknown>) => void): TlsCredentials {
  if (files.certFile === undefined || files.keyFile === undefined) {
    throw new ConfigError('TLS_NOT_CONFIGURED', 'a tls: listen address needs tls.certFile and tls.keyFile', 'create a pair for testing with `sipctl tls selfsigned`');
  }
  const cert = readPem(files.certFile, 'certFile');
  const key = readPem(files.keyFile, 'keyFile');
  const ca = files.caFile !== undefined ? readPem(files.caFile, 'caFile') : undefined;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError('TLS_BAD_CERT', `tls.certFile ${files.certFile}: not a PEM certificate (${(e as Error).message})`);
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw new ConfigError('TLS_BAD_CERT', `tls.caFile ${files.caFile}: not a PEM certificate (${(e as Error).message})`);
    }
  }
  const badKey = (why: string) => new ConfigError('TLS_BAD_KEY', `tls.keyFile ${files.keyFile} with tls.certFile ${files.certFile}: ${why}`, 'the key must be unencrypted PEM and belong to the certificate');
  let matches: boolean;
  try {
    // OpenSSL compares them only for some key types; otherwise a mismatch would only show as failed handshakes.
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw badKey((e as Error).message);
  }
  if (!matches) throw badKey('the key does not belong to the certificate');
  try {
    tls.createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw badKey((e as Error).message);
  }
  try {
    if ((statSync(files.keyFile).mode & 0o077) !== 0) warn?.('the TLS key file can be read by group or others; chmod 600 it', { keyFile: files.keyFile });
  } catch {
    /* read above; a race is not worth failing for */
  }
  return { cert, key, ...(ca ? { ca } : {}) };
}

/** One-line subject, "CN=alice, O=Example" (multi-valued attributes repeated). */
function formatSubject(subject: Record<string, string | string[]> | undefined): string {
  if (!subject) return '';
  return Object.entries(subject)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`))
    .join(', ');
}

/** The peer certificate as policy sees it; undefined when the client presented none. */
export function peerOf(sock: tls.TLSSocket): TlsPeer | undefined {
  const cert = sock.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return undefined;
  const subject = cert.subject as unknown as Record<string, string | string[]> | undefined;
  const cn = subject?.CN;
  return {
    // Two CNs are ambiguous: policy gets none rather than a guess.
    ...(typeof cn === 'string' && cn !== '' ? { subjectCN: cn } : {}),
    subject: formatSubject(subject),
    verified: sock.authorized,
    fingerprint256: cert.fingerprint256 ?? '',
  };
}

function contextOptions(s: TlsSettings): tls.SecureContextOptions {
  const c = s.credentials;
  return { cert: c.cert, key: c.key, ...(c.ca ? { ca: c.ca } : {}), minVersion: s.minVersion, maxVersion: s.maxVersion };
}

export async function listenTls(addr: ListenAddress, onMessage: MessageHandler, opts: TlsOptions): Promise<TlsTransport> {
  const settings = opts.tls;
  const table = new ConnectionTable('tls', opts);
  let local: Endpoint = { ip: addr.host, port: addr.port, transport: 'tls' };
  const server = tls.createServer({
    ...contextOptions(settings),
    requestCert: settings.requestClientCert || settings.requireClientCert || settings.verifyClientCert,
    // The transport decides (below), so a refusal is logged with its reason.
    rejectUnauthorized: false,
    handshakeTimeout: settings.handshakeTimeoutMs,
    noDelay: true,
  });
  // 1. TCP accept (tls.Server has already wrapped the socket; no handshake byte has been read).
  server.on('connection', (raw: net.Socket) => {
    table.accept(raw);
  });

  // 2. Handshake failures: garbage, wrong version, no shared cipher, timeout, reset.
  server.on('tlsClientError', (err: NodeJS.ErrnoException, sock: tls.TLSSocket) => {
    const ip = sock.remoteAddress; // (before destroy, which forgets it)
    const port = sock.remotePort ?? 0;
    sock.destroy(); // a handshake timeout leaves the socket open otherwise
    // A socket refused at accept is reported there; its handshake then fails with a reset.
    if (ip === undefined) return;
    const source: Endpoint = { ip: normaliseIp(ip), port, transport: 'tls' };
    const code = err.code ?? 'ERR_TLS';
    opts.onClose?.(source, code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : 'handshake-failed', code);
  });

  // 3. + 4. The client certificate, then SIP.
  server.on('secureConnection', (sock: tls.TLSSocket) => {
    const ip = normaliseIp(sock.remoteAddress ?? '');
    const source: Endpoint = { ip, port: sock.remotePort ?? 0, transport: 'tls' };
    const refuse = (reason: 'client-cert-missing' | 'client-cert-unverified', detail?: string) => {
      opts.onClose?.(source, reason, detail);
      sock.destroy();
    };
    if (ip === '' || sock.destroyed) return sock.destroy();
    const peer = peerOf(sock);
    if (peer === undefined && settings.requireClientCert) return refuse('client-cert-missing');
    if (peer !== undefined && settings.verifyClientCert && !peer.verified) {
      return refuse('client-cert-unverified', `${String(sock.authorizationError ?? 'unverified')}; subject ${peer.subject.slice(0, 200)}`);
    }
    // The table knows the TCP socket under the TLS one (tls.Server keeps it as _parent).
    const accepted = (sock as tls.TLSSocket & { _parent?: net.Socket })._parent;
    serveStream(sock, source, local, onMessage, opts, { table, ...(accepted !== undefined ? { accepted } : {}), ...(peer !== undefined ? { tlsPeer: peer } : {}) });
  });

  // No server.maxConnections: the table admits a new connection by closing the least recently active one.
  local = await bindStreamServer(server, addr, opts.log);
  return {
    local,
    // no sendTo: a stream peer is reached only over the connection it opened (sendTo below)
    socket: { local, advertised: local },
    connections: () => table.counts(),
    sendTo: (to, data) => table.sendTo(to, data),
    close: streamCloser(server, table),
    setCredentials: (credentials) => {
      const next = { ...settings, credentials };
      try {
        server.setSecureContext(contextOptions(next));
      } catch (e) {
        throw new ConfigError('TLS_BAD_KEY', `TLS credentials refused: ${(e as Error).message}`);
      }
      settings.credentials = credentials;
    },
  };
}
