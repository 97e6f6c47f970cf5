/**
 * SIM keys encrypted at rest (issue 16 part 4).
 *
 * A key-encryption key (KEK, 32 bytes) comes from a file of mode 0600 (SIPCTL_SIM_KEK_FILE or the
 * config key simKekFile) or the environment (SIPCTL_SIM_KEK, 64 hex digits), never from a flag.
 * From it two keys are derived (HMAC-SHA-256 with fixed labels), so no key serves two purposes:
 *
 *   seal key         AES-256-GCM over Ki ‖ OPc (32 bytes), a fresh 96-bit nonce per write, the
 *                    IMSI as associated data: a sealed value copied onto another card's row does
 *                    not open. Stored in `keys_enc` as "v1:" + base64(nonce ‖ ciphertext ‖ tag).
 *   fingerprint key  HMAC over Ki and over OPc, stored in the `ki` / `opc` columns as "enc:" + 28
 *                    hex digits: the unique index on ki still refuses a second card with the same
 *                    Ki, and equal values compare equal, without the key material in the clear.
 *                    "enc:" is not hex, so HSS software reading the columns directly fails loudly
 *                    instead of computing vectors with a wrong key.
 *
 * The key id (`key_id` column) is the first 16 hex digits of SHA-256 over a label and the KEK: it
 * names the KEK a row was sealed with, so `sim rekey` can move every row to a new one and a wrong
 * key is reported as such instead of as a broken row.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, SipctlError, UsageError } from '../errors.js';

const KEK_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_PREFIX = 'v1:';
/** What the ki / opc columns start with on an encrypted row. */
export const FINGERPRINT_PREFIX = 'enc:';

export interface Kek {
  /** names this KEK in the key_id column */
  readonly keyId: string;
  /** Ki ‖ OPc (hex) → the keys_enc column value, bound to the IMSI. */
  seal(imsi: string, kiHex: string, opcHex: string): string;
  /** keys_enc → Ki and OPc (hex); throws SIM_KEY_TAMPERED when it does not authenticate. */
  open(imsi: string, sealed: string): { ki: string; opc: string };
  /** The value stored in the ki (or opc) column of an encrypted row. */
  fingerprint(column: 'ki' | 'opc', hex: string): string;
  /** Overwrite the derived keys (call when done). */
  wipe(): void;
}

function derive(kek: Buffer, label: string): Buffer {
  return createHmac('sha256', kek).update(label).digest();
}

/** A KEK from its 32 raw bytes. The bytes are copied into derived keys; the caller may wipe its buffer. */
export function createKek(raw: Buffer): Kek {
  if (raw.length !== KEK_BYTES) throw new UsageError('SIM_KEK_INVALID', `sim key-encryption key: expected ${KEK_BYTES} bytes (64 hex digits), got ${raw.length}`);
  if (raw.every((b) => b === 0)) throw new UsageError('SIM_KEK_INVALID', 'sim key-encryption key: all zeros is not a key');
  const keyId = createHash('sha256').update('sipctl sim kek id v1\0').update(raw).digest('hex').slice(0, 16);
  const sealKey = derive(raw, 'sipctl sim seal v1');
  const fpKey = derive(raw, 'sipctl sim fingerprint v1');
  return {
    keyId,
    seal(imsi, kiHex, opcHex) {
      const plain = Buffer.from(kiHex + opcHex, 'hex');
      if (plain.length !== 32) throw new SipctlError('SIM_SEAL_INPUT', 'ki and opc must be 16 bytes each', { category: 'internal' });
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv('aes-256-gcm', sealKey, nonce, { authTagLength: TAG_BYTES });
      c.setAAD(Buffer.from(imsi, 'utf8'));
      const ct = Buffer.concat([c.update(plain), c.final()]);
      const out = SEALED_PREFIX + Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64');
      plain.fill(0);
      ct.fill(0);
      return out;
    },
    open(imsi, sealed) {
      const tampered = () => new SipctlError('SIM_KEY_TAMPERED', `sim ${imsi}: the encrypted keys do not authenticate (changed, or copied from another card's row)`, { category: 'conflict', hint: 'restore the row from a backup; sipctl refuses to use it' });
      if (typeof sealed !== 'string' || !sealed.startsWith(SEALED_PREFIX)) throw tampered();
      const buf = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64');
      if (buf.length !== NONCE_BYTES + 32 + TAG_BYTES) throw tampered();
      const d = createDecipheriv('aes-256-gcm', sealKey, buf.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
      d.setAAD(Buffer.from(imsi, 'utf8'));
      d.setAuthTag(buf.subarray(NONCE_BYTES + 32));
      let plain: Buffer;
      try {
        plain = Buffer.concat([d.update(buf.subarray(NONCE_BYTES, NONCE_BYTES + 32)), d.final()]);
      } catch {
        throw tampered();
      }
      const hex = plain.toString('hex');
      plain.fill(0);
      return { ki: hex.slice(0, 32), opc: hex.slice(32) };
    },
    fingerprint(column, hex) {
      return FINGERPRINT_PREFIX + createHmac('sha256', fpKey).update(`${column}:${hex.toLowerCase()}`).digest('hex').slice(0, 28);
    },
    wipe() {
      sealKey.fill(0);
      fpKey.fill(0);
    },
  };
}

/** 64 hex digits (whitespace around them ignored) → a KEK. `where` names the source in messages, never the value. */
export function kekFromHex(text: string, where: string): Kek {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) throw new ConfigError('SIM_KEK_INVALID', `${where}: expected the sim key-encryption key as 64 hex digits (32 bytes)`, 'make one with: openssl rand -hex 32 > kek.hex && chmod 600 kek.hex');
  const raw = Buffer.from(t, 'hex');
  try {
    return createKek(raw);
  } catch (e) {
    if (e instanceof SipctlError) throw new ConfigError(e.code, `${where}: ${e.message.replace(/^sim key-encryption key: /, '')}`);
    throw e;
  } finally {
    raw.fill(0);
  }
}

/** A KEK file: must be a regular file of mode 0600 (or stricter), holding 64 hex digits. */
export function kekFromFile(path: string, what = 'sim key-encryption key file'): Kek {
  let text: string;
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    mode = st.mode;
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('SIM_KEK_UNREADABLE', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError('CONFIG_INSECURE_MODE', `${what} ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)})`, `run: chmod 600 ${path}`);
  }
  return kekFromHex(text, `${what} ${path}`);
}

/** The configured KEK: SIPCTL_SIM_KEK (hex) wins over a file (SIPCTL_SIM_KEK_FILE / config simKekFile); none → plain storage. */
export function resolveKek(opts: { hex?: string; file?: string }): Kek | undefined {
  if (opts.hex !== undefined && opts.hex !== '') return kekFromHex(opts.hex, 'SIPCTL_SIM_KEK');
  if (opts.file !== undefined && opts.file !== '') return kekFromFile(opts.file);
  return undefined;
}

/** Constant-time comparison of two stored column values (fingerprints or hex keys). */
export function sameStored(a: string, b: string): boolean {
  const x = Buffer.from(a.trim().toLowerCase());
  const y = Buffer.from(b.trim().toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}
