/**
 * Issue 11 §6: packaging an operator expects.
 * - package.json main/exports name files that exist, and the library loads from them;
 * - `npm link` (what `npm install -g` does for bins and man pages) puts sipctl(8), sipd(8) and the
 *   topic pages where man(1) finds them, and package.json "man" lists exactly the generated pages;
 * - contrib/systemd/sipd.service passes `systemd-analyze verify` and is hardened; contrib/logrotate/sipd
 *   passes `logrotate -d`.
 * A missing tool fails the test, naming it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'sipctl-pkg-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tool(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, cwd: REPO, timeout: 60_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`missing test prerequisite: ${cmd} (scripts/install-deps.sh installs it)`);
  return r;
}

test('package.json main and exports name files that exist, and the library loads from them', async () => {
  const targets = [pkg.main, ...Object.values<string>(pkg.exports)];
  for (const t of targets) assert.ok(existsSync(join(REPO, t)), `${t} does not exist (npm run build?)`);
  const lib = await import(pathToFileURL(join(REPO, pkg.exports['.'])).href);
  for (const name of ['openDatabase', 'resolveConfig', 'addSubscriber', 'SipctlError', 'subscriberStorage']) assert.equal(typeof lib[name], 'function', name);
  assert.equal(pkg.main.replace(/^\.\//, ''), pkg.exports['.'].replace(/^\.\//, ''));
});

test('package.json "man" lists exactly the generated pages, sipd.8 among them', () => {
  const pages = readdirSync(join(REPO, 'man')).filter((f) => f.endsWith('.8')).map((f) => `./man/${f}`).sort();
  assert.deepEqual(pkg.man, pages);
  assert.ok(pkg.man.includes('./man/sipctl.8') && pkg.man.includes('./man/sipd.8'));
  const sipd = readFileSync(join(REPO, 'man', 'sipd.8'), 'utf8');
  // generated from the daemon's metadata: options from sipd --help, every config key
  assert.match(sipd, /^\.TH SIPD 8 /);
  assert.match(sipd, /\\-\\-state\\-dir DIR/);
  assert.match(sipd, /\.B tls\.certFile/);
});

test('after npm link, `man sipctl` and `man sipd` find their pages', () => {
  const prefix = join(tmp, 'prefix');
  const r = tool('npm', ['link', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { ...process.env, npm_config_prefix: prefix });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(prefix, 'bin', 'sipctl')) && existsSync(join(prefix, 'bin', 'sipd')));
  const env = { ...process.env, MANPATH: join(prefix, 'share', 'man') };
  for (const page of ['sipctl', 'sipd', 'sipctl-subscriber']) {
    const w = tool('man', ['-w', page], env);
    assert.equal(w.status, 0, `man -w ${page}: ${w.stderr}`);
    // man follows the link npm made into the package's man/ directory
    assert.equal(realpathSync(w.stdout.trim()), realpathSync(join(REPO, 'man', `${page}.8`)));
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man8', `${page}.8`)));
    const text = tool('man', ['-P', 'cat', page], { ...env, MANWIDTH: '100' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${page.toUpperCase()}\\(8\\)`, 'm'));
  }
});

test('contrib/systemd/sipd.service passes systemd-analyze verify and is hardened', () => {
  const unit = join(REPO, 'contrib', 'systemd', 'sipd.service');
  // systemd-analyze also checks the Documentation= man pages: give it the generated ones
  const man8 = join(tmp, 'man', 'man8');
  mkdirSync(man8, { recursive: true });
  for (const p of ['sipd.8', 'sipctl.8']) symlinkSync(join(REPO, 'man', p), join(man8, p));
  const r = tool('systemd-analyze', ['verify', unit], { ...process.env, MANPATH: join(tmp, 'man') });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no warnings');
  const text = readFileSync(unit, 'utf8');
  for (const line of ['DynamicUser=yes', 'ProtectSystem=strict', 'StateDirectory=sipd', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'NoNewPrivileges=yes', 'ProtectHome=yes', 'PrivateTmp=yes', 'UMask=0077']) {
    assert.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  }
  assert.ok(!/SIPCTL_DB_PASSWORD=[^"$]/.test(text), 'no password in the unit');
});

test('contrib/logrotate/sipd passes logrotate -d', () => {
  const r = tool('logrotate', ['-d', '-s', join(tmp, 'logrotate.state'), join(REPO, 'contrib', 'logrotate', 'sipd')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /rotating pattern: \/var\/log\/sipd\/\*\.log/);
  assert.doesNotMatch(r.stdout + r.stderr, /error/i);
});
