/**
 * A self-signed certificate and its key, for testing sipd's TLS listener (`sipctl tls
 * selfsigned`). Node 20 can make keys but not X.509 certificates, so the `openssl` command does
 * the work: with arguments only (no passphrase: the key is unencrypted, no secret is ever on its
 * command line), into a private temporary directory beside the target, then the key is made
 * 0600 and both files are renamed into place — a failed run leaves nothing half-written, and the
 * key is never readable by others, not even for a moment.
 *
 * The certificate is its own CA (basicConstraints CA:TRUE, from openssl's default v3_ca), with
 * extendedKeyUsage serverAuth + clientAuth: the same pair serves as sipd's server certificate and
 * as a client certificate whose cert.pem is the tls.caFile that verifies it.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { ConflictError, SipctlError, ValidationError } from '../errors.js';

export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';

export interface SelfSignedOptions {
  /** subject CN (a host name, an IP, or a SIP user for client certificates); default localhost */
  cn?: string;
  /** validity in days, 1–3650; default 365 */
  days?: number;
  /** directory for cert.pem and key.pem (created if missing); default the working directory */
  outDir?: string;
  /** extra subjectAltName entries: host names or IP addresses */
  san?: string[];
  keyType?: 'ec' | 'rsa';
  /** replace existing cert.pem / key.pem */
  force?: boolean;
  /** the openssl binary (default: `openssl` on PATH) */
  openssl?: string;
  timeoutMs?: number;
}

export interface SelfSignedResult {
  cert: string;
  key: string;
  subject: string;
  subjectAltName: string[];
  /** SHA-256 of the DER certificate, colon-separated hex (what `openssl x509 -fingerprint -sha256` prints) */
  fingerprint256: string;
  validFrom: string;
  validTo: string;
  keyType: 'ec' | 'rsa';
}

// No '/', '=', '+', ',' or '\': they are structure in openssl's -subj syntax.
const CN = /^[A-Za-z0-9_.*@:-]{1,64}$/;
const HOST = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function sanEntry(name: string): string | undefined {
  if (net.isIP(name) !== 0) return `IP:${name}`;
  if (name.length <= 253 && HOST.test(name)) return `DNS:${name}`;
  return undefined;
}

/** subjectAltName entries for the CN and the extra names (localhost also gets 127.0.0.1 and ::1). */
export function subjectAltNames(cn: string, extra: readonly string[] = []): string[] {
  const out: string[] = [];
  const add = (e: string | undefined) => {
    if (e !== undefined && !out.includes(e)) out.push(e);
  };
  add(sanEntry(cn));
  if (cn === 'localhost') {
    add('IP:127.0.0.1');
    add('IP:::1');
  }
  for (const n of extra) {
    const e = sanEntry(n);
    if (e === undefined) throw new ValidationError('san', `${JSON.stringify(n.slice(0, 64))} is not a host name or IP address`);
    add(e);
  }
  return out;
}

function runOpenssl(bin: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolveRun, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err === null) return resolveRun();
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === 'ENOENT') {
        return reject(new SipctlError('OPENSSL_MISSING', `cannot run ${bin}: not found`, { category: 'config', hint: 'install openssl (e.g. apt-get install openssl), or make a pair with any other tool' }));
      }
      const detail = String(stderr).split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== '-----').slice(-2).join('; ');
      reject(new SipctlError('OPENSSL_FAILED', `openssl failed${e.killed ? ` (killed after ${timeoutMs} ms)` : ''}: ${detail || e.message}`, { category: 'internal' }));
    });
  });
}

export async function createSelfSigned(o: SelfSignedOptions = {}): Promise<SelfSignedResult> {
  const cn = o.cn ?? 'localhost';
  if (!CN.test(cn)) throw new ValidationError('cn', 'must be 1–64 characters of letters, digits and . _ - * @ :', 'e.g. --cn sip.example.com, --cn 192.0.2.10, --cn alice');
  const days = o.days ?? 365;
  if (!Number.isSafeInteger(days) || days < 1 || days > 3650) throw new ValidationError('days', 'must be an integer 1–3650');
  const keyType = o.keyType ?? 'ec';
  const san = subjectAltNames(cn, o.san ?? []);
  const outDir = resolve(o.outDir ?? '.');
  const certPath = join(outDir, CERT_FILE);
  const keyPath = join(outDir, KEY_FILE);
  if (!o.force) {
    for (const p of [certPath, keyPath]) {
      if (existsSync(p)) throw new ConflictError('TLS_FILE_EXISTS', `${p} already exists`, 'choose another --out-dir, or --force to replace it');
    }
  }
  try {
    mkdirSync(outDir, { recursive: true });
    if (!statSync(outDir).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new ValidationError('out-dir', `cannot use ${outDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }

  // A private directory beside the target (same file system, so rename is atomic).
  let tmp: string;
  try {
    tmp = mkdtempSync(join(outDir, '.sipctl-tls-'));
  } catch (e) {
    throw new ValidationError('out-dir', `cannot write in ${outDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    chmodSync(tmp, 0o700);
    const tmpKey = join(tmp, KEY_FILE);
    const tmpCert = join(tmp, CERT_FILE);
    const args = [
      'req', '-x509', '-batch',
      ...(keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048']),
      '-sha256', '-nodes',
      '-keyout', tmpKey,
      '-out', tmpCert,
      '-days', String(days),
      '-subj', `/CN=${cn}`,
      '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
      ...(san.length > 0 ? ['-addext', `subjectAltName=${san.join(',')}`] : []),
    ];
    await runOpenssl(o.openssl ?? 'openssl', args, o.timeoutMs ?? 60_000);
    chmodSync(tmpKey, 0o600);
    chmodSync(tmpCert, 0o644);
    const pem = readFileSync(tmpCert);
    const x509 = new X509Certificate(pem);
    renameSync(tmpKey, keyPath);
    renameSync(tmpCert, certPath);
    return {
      cert: certPath,
      key: keyPath,
      subject: x509.subject.replace(/\n/g, ', '),
      subjectAltName: x509.subjectAltName ? x509.subjectAltName.split(', ') : [],
      fingerprint256: x509.fingerprint256,
      validFrom: new Date(x509.validFrom).toISOString(),
      validTo: new Date(x509.validTo).toISOString(),
      keyType,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
