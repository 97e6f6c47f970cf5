/**
 * Shared fixtures for the RPC tests: expecting a call to fail with an RpcError, a client that is
 * closed after the test body (also when an assertion fails), and a local HTTPS JSON-RPC server
 * with a throw-away self-signed certificate for the TLS tests.
 *
 * The fake Kamailio servers (raw HTTP, unix stream, FIFO, datagram) are in test/unit/rpc/servers.ts
 * and test/unit/rpc/dgram-servers.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createRpcClient, RpcError, type RpcClient, type RpcClientOptions } from '../../src/core/rpc/index.js';

/** Await `p`, which must reject with an RpcError; returns that error for further assertions. */
export async function expectRpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${inspect(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

/** Run `body` with a fresh client for `url`; the client is closed afterwards, whether `body` passed or threw. */
export async function withClient<T>(url: string, body: (c: RpcClient) => Promise<T>): Promise<T>;
export async function withClient<T>(url: string, opts: RpcClientOptions, body: (c: RpcClient) => Promise<T>): Promise<T>;
export async function withClient<T>(url: string, a: RpcClientOptions | ((c: RpcClient) => Promise<T>), b?: (c: RpcClient) => Promise<T>): Promise<T> {
  const [opts, body] = typeof a === 'function' ? [{}, a] : [a, b!];
  const c = createRpcClient(url, opts);
  try {
    return await body(c);
  } finally {
    await c.close();
  }
}

export function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What the HTTPS server sends for a request: the body, with application/json and status 200 unless told. */
export interface HttpsAnswer {
  status?: number;
  reason?: string;
  body: string | Buffer;
}

export interface HttpsRpcServer {
  url: string;
  /** The self-signed certificate (its own CA), for --rpc-ca-file / caFile. */
  caFile: string;
  /** Closes open connections and the server, and removes the certificate's temp dir. */
  close(): Promise<void>;
}

/**
 * An HTTPS JSON-RPC server on 127.0.0.1 with a fresh self-signed certificate (CN=localhost,
 * SAN IP:127.0.0.1 and DNS:localhost), so clients trust it only with `caFile`. `answer` gets
 * the parsed request body. Needs the openssl binary (see haveOpenssl()).
 */
export async function startHttpsRpcServer(answer: (request: any) => HttpsAnswer): Promise<HttpsRpcServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-tls-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const caFile = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', keyFile, '-out', caFile], { stdio: 'ignore' });
    const server = https.createServer({ key: readFileSync(keyFile), cert: readFileSync(caFile) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const a = answer(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(a.status ?? 200, a.reason, { 'Content-Type': 'application/json' });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `https://127.0.0.1:${(server.address() as { port: number }).port}/RPC`,
      caFile,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
