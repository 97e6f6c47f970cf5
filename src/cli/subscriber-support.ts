/** Flags and password sourcing shared by the subscriber commands (add, passwd, import). */
import { Flags } from '@oclif/core';
import type { ConfigValues, ResolvedConfig } from '../core/config/config.js';
import { generatePassword } from '../core/subscribers/credentials.js';
import { splitAor } from '../core/subscribers/identity.js';
import { UsageError } from '../core/errors.js';
import { promptSecret, readStdinValue } from './prompt.js';
import type { Session } from '../core/session.js';
import { committed, reloadSessionCredentials } from '../core/subscribers/credential-reload.js';

/** The help sentence of every command that changes subscribers (see reloadProxyCredentials). */
export const LIVE_CHANGE_HELP = 'The change is live at once: sipd (which caches credentials) is asked to reload them (auth.reloadCredentials on the configured proxies); a proxy that cannot be reached is a warning, not a failure.';

export const domainFlag = Flags.string({ char: 'd', description: 'SIP domain (= digest realm) when the user has no @domain', env: 'SIPCTL_DOMAIN' });

export const credentialFlags = {
  domain: domainFlag,
  hash: Flags.string({ description: 'ha1 hash: md5 (Kamailio default) or sha256 (for proxies set up for it)', options: ['md5', 'sha256'] }),
  'store-plaintext': Flags.boolean({ description: 'also store the plaintext password, for Kamailio with auth_db calculate_ha1 yes (--no-store-plaintext: ha1/ha1b only, for calculate_ha1 0 + password_column ha1; neither: ha1 only, refused when the table keeps plaintext passwords)', allowNo: true }),
  'allow-weak': Flags.boolean({ description: 'accept a password that fails the strength rules' }),
};

export const passwordSourceFlags = {
  'password-stdin': Flags.boolean({ description: 'read the password from standard input', exclusive: ['generate'] }),
  generate: Flags.boolean({ description: 'generate a strong random password and print it once', exclusive: ['password-stdin'] }),
};

export function credentialConfig(flags: { domain?: string; hash?: string; 'store-plaintext'?: boolean }): Partial<ConfigValues> {
  return {
    domain: flags.domain,
    hash: flags.hash as ConfigValues['hash'] | undefined,
    storePlaintext: flags['store-plaintext'],
  };
}

/**
 * The plaintext choice, when someone made it: a flag (--store-plaintext / --no-store-plaintext),
 * SIPCTL_STORE_PLAINTEXT, the config file's storePlaintext or a kamctlrc. undefined = sipctl's
 * default, which core checks against the subscriber table before writing ha1 only.
 */
export function plaintextChoice(cfg: ResolvedConfig): boolean | undefined {
  return cfg.sources.storePlaintext.source === 'default' ? undefined : cfg.values.storePlaintext;
}

export function parseAor(aor: string, domain: string | undefined) {
  return splitAor(aor, domain);
}

/**
 * Where the new password comes from: argument (kamctl compatibility; visible in process lists),
 * --password-stdin, --generate, or a hidden prompt on a TTY.
 */
export async function obtainPassword(arg: string | undefined, flags: { 'password-stdin'?: boolean; generate?: boolean }): Promise<{ password: string; generated: boolean }> {
  const sources = [arg !== undefined, !!flags['password-stdin'], !!flags.generate].filter(Boolean).length;
  if (sources > 1) throw new UsageError('PASSWORD_SOURCES', 'give the password one way only: argument, --password-stdin or --generate');
  if (arg !== undefined) return { password: arg, generated: false };
  if (flags['password-stdin']) {
    const password = await readStdinValue();
    if (!password) throw new UsageError('EMPTY_PASSWORD', 'no password on standard input');
    return { password, generated: false };
  }
  if (flags.generate) return { password: generatePassword(), generated: true };
  return { password: await promptSecret('Password:', '--password-stdin or --generate', true), generated: false };
}

/**
 * After a committed subscriber change (not --dry-run): sipd reloads its credential cache at once
 * (core/subscribers/credential-reload.ts). A proxy that could not be reloaded is a warning on
 * stderr and in the JSON's warnings; the command still succeeds — the row is written.
 */
export async function reloadProxyCredentials<T extends { dryRun?: boolean; warnings?: string[] }>(session: Session, change: T, note: (line: string) => void): Promise<T> {
  if (!committed(change)) return change;
  const warnings = await reloadSessionCredentials(session);
  if (warnings.length === 0) return change;
  for (const w of warnings) note(`warning: ${w}`);
  return { ...change, warnings: [...(change.warnings ?? []), ...warnings] };
}
