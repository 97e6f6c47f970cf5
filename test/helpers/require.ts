/**
 * What the test run needs from the machine. scripts/test.sh installs every one of these
 * (scripts/install-deps.sh), so when one is missing the set-up broke: the test FAILS with a
 * message naming what is missing. It never skips — a skipped interop suite looks like a pass.
 *
 * Skips are kept only for explicitly opt-in suites (an environment variable turns them on);
 * scripts/test.sh lists those by name and fails on any other skip.
 *
 * Usage:
 *   describe('sipp against sipd', () => {
 *     before(() => requireTools('sipp'));          // every test of the suite fails, naming sipp
 *     ...
 *   });
 *   test('...', async () => { requireTools('sipsak'); ... });
 *   before(() => requireComponent(kamailioMissing()));   // any "why it cannot run" check
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Thrown when something the tests need is not installed or not running. */
export class MissingComponentError extends Error {
  constructor(what: string) {
    super(`missing test prerequisite: ${what} (scripts/install-deps.sh installs it; this is a failure, not a skip)`);
    this.name = 'MissingComponentError';
  }
}

/** Debian packages that provide each program, for the message. */
const PACKAGE_OF: Record<string, string> = {
  kamailio: 'kamailio',
  kamcmd: 'kamailio',
  kamctl: 'kamailio',
  sipp: 'sip-tester',
  promtool: 'prometheus',
  'fail2ban-regex': 'fail2ban',
  'fail2ban-client': 'fail2ban',
  sipsak: 'sipsak',
  svmap: 'sipvicious',
  svwar: 'sipvicious',
  svcrack: 'sipvicious',
  openssl: 'openssl',
  mysql: 'mariadb-client',
  mysqladmin: 'mariadb-client',
  python3: 'python3',
  script: 'util-linux (bsdutils)',
};

/** true when `bin` is an executable file on PATH. */
export function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && existsSync(join(d, bin)));
}

/** "not installed: a, b (Debian packages: …)" for the programs of `bins` not on PATH, or undefined. */
export function toolsMissing(...bins: string[]): string | undefined {
  const gone = bins.filter((b) => !onPath(b));
  if (!gone.length) return undefined;
  const pkgs = [...new Set(gone.map((b) => PACKAGE_OF[b] ?? b))];
  return `not installed: ${gone.join(', ')} (Debian packages: ${pkgs.join(', ')})`;
}

/** Throws MissingComponentError unless every program of `bins` is on PATH. */
export function requireTools(...bins: string[]): void {
  requireComponent(toolsMissing(...bins));
}

/** Throws MissingComponentError when `missing` (a "why it cannot run" text) is set. */
export function requireComponent(missing: string | undefined | false | null): void {
  if (missing) throw new MissingComponentError(missing);
}

/** Throws unless the optional npm dependency `name` (e.g. the unix-dgram addon) loads. */
export function requireNodeModule(name: string): void {
  try {
    createRequire(import.meta.url)(name);
  } catch (e) {
    throw new MissingComponentError(`npm module ${name} does not load (${(e as Error).message.split('\n')[0]}); run npm ci`);
  }
}

/** Throws unless this process runs as root (tests of file permissions root would bypass, or needs root to set up). */
export function requireRoot(why: string): void {
  if (process.geteuid?.() !== 0) throw new MissingComponentError(`root (${why})`);
}

/** Throws unless sipsak was built with TLS support (Debian's is). */
export function requireSipsakTls(): void {
  requireTools('sipsak');
  const v = spawnSync('sipsak', ['-V'], { encoding: 'utf8' });
  if (!/TLS_SUPPORT/.test(`${v.stdout}${v.stderr}`)) throw new MissingComponentError('sipsak with TLS support (sipsak -V lacks TLS_SUPPORT)');
}
