import { createHash, randomInt } from 'node:crypto';
import type { HashAlgorithm } from '../config/config.js';
import { ValidationError } from '../errors.js';
import { COMMON_PASSWORDS } from './common-passwords.js';

/**
 * Kamailio's digest pre-hashes (auth_db): realm = domain.
 *   ha1  = H(username:realm:password)
 *   ha1b = H(username@domain:realm:password)
 */
export function computeHa1(username: string, domain: string, password: string, hash: HashAlgorithm = 'md5'): { ha1: string; ha1b: string } {
  const h = (s: string) => createHash(hash).update(s, 'utf8').digest('hex');
  return { ha1: h(`${username}:${domain}:${password}`), ha1b: h(`${username}@${domain}:${domain}:${password}`) };
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 64; // subscriber.password is VARCHAR(64)

/** Reasons a password is weak; empty when it is acceptable. */
export function passwordWeaknesses(password: string, username: string): string[] {
  const reasons: string[] = [];
  const lower = password.toLowerCase();
  if (password.length < MIN_PASSWORD_LENGTH) reasons.push(`shorter than ${MIN_PASSWORD_LENGTH} characters`);
  if (username && (lower === username.toLowerCase() || lower.includes(username.toLowerCase()))) reasons.push('contains the username');
  if (/^\d+$/.test(password)) reasons.push('digits only');
  if (COMMON_PASSWORDS.has(lower)) reasons.push('a commonly used password');
  return reasons;
}

export function validatePassword(password: string, username: string, allowWeak: boolean): string {
  if (password.length === 0) throw new ValidationError('password', 'must not be empty');
  if (password.length > MAX_PASSWORD_LENGTH) throw new ValidationError('password', `is longer than ${MAX_PASSWORD_LENGTH} characters`);
  if (/[\x00-\x1f\x7f]/.test(password)) throw new ValidationError('password', 'contains a control character');
  if (!allowWeak) {
    const weak = passwordWeaknesses(password, username);
    if (weak.length) throw new ValidationError('password', `is too weak: ${weak.join(', ')}`, 'choose another, use --generate, or pass --allow-weak');
  }
  return password;
}

// No look-alikes (0/O, 1/l/I) so a generated password survives being read out over the phone.
const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A random password from a CSPRNG: 20 characters ≈ 115 bits. */
export function generatePassword(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
