/**
 * Configuration: precedence (flags > env > kamctlrc > file > default), masking of secrets,
 * the file-mode rule for files holding a password, and kamctlrc import.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSecretPrivate, describeConfig, insecureWarnings, maskUrl, resolveConfig, urlHasPassword, type ResolvedConfig } from '../../../src/core/config/config.js';
import { kamctlrcToConfig, parseKamctlrc, readKamctlrc } from '../../../src/core/config/kamctlrc.js';
import { writeConfigFile } from '../../../src/core/config/config-file.js';
import { ConfigError, ConflictError } from '../../../src/core/errors.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/foundation/', import.meta.url));
const LAB_KAMCTLRC = fileURLToPath(new URL('../../fixtures/kamailio/kamctlrc', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'sipctl-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Write a file in the private temp dir with an explicit mode (umask does not apply to chmod). */
function file(content: string, mode = 0o600, name = `f${++n}`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}
const json = (o: unknown, mode = 0o600) => file(JSON.stringify(o), mode);

/** An env with nothing from the real user: HOME/XDG point into the temp dir. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'home', '.config'), XDG_DATA_HOME: join(dir, 'home', '.local', 'share'), ...extra };
}

function assertConfigError(fn: () => unknown, code: string, re?: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.category, 'config');
  if (re) assert.match(`${caught.message} ${caught.hint ?? ''}`, re);
  return caught;
}

describe('precedence: flags > env > kamctlrc > file > default', () => {
  const cfgFile = json({ db: 'sqlite:///from/file.db', domain: 'file.example', hash: 'md5', timeoutMs: 1234, rpc: ['http://file:5071/RPC'] });
  const rc = file('DBENGINE=SQLITE\nDB_PATH=/from/kamctlrc.db\nSIP_DOMAIN=rc.example\nMD5=sha256sum\n');
  const all = () =>
    resolveConfig({
      flags: { domain: 'flag.example', kamctlrc: rc },
      env: env({ SIPCTL_DOMAIN: 'env.example', SIPCTL_DB: 'sqlite:///from/env.db', SIPCTL_KAMCTLRC: '/nonexistent/ignored-because-flag-wins' }),
      searchPaths: [cfgFile],
    });

  test('each key comes from the strongest source that sets it', () => {
    const rc0 = all();
    assert.equal(rc0.values.domain, 'flag.example');
    assert.equal(rc0.sources.domain.source, 'flag');
    assert.equal(rc0.values.db, 'sqlite:///from/env.db');
    assert.equal(rc0.sources.db.source, 'env');
    assert.equal(rc0.sources.db.detail, 'SIPCTL_DB');
    assert.equal(rc0.values.hash, 'sha256'); // kamctlrc MD5=sha256sum beats the file's md5
    assert.equal(rc0.sources.hash.source, 'kamctlrc');
    assert.equal(rc0.values.timeoutMs, 1234); // only the file sets it
    assert.equal(rc0.sources.timeoutMs.source, 'file');
    assert.deepEqual(rc0.values.rpc, ['http://file:5071/RPC']);
    assert.equal(rc0.values.storePlaintext, true); // a kamctlrc without STORE_PLAINTEXT_PW: kamctl's 1
    assert.equal(rc0.sources.storePlaintext.source, 'kamctlrc');
    assert.deepEqual(rc0.files, [cfgFile]);
  });

  test('peeling off one layer at a time exposes the next', () => {
    const base = { searchPaths: [cfgFile] };
    const withEnv = resolveConfig({ ...base, flags: { kamctlrc: rc }, env: env({ SIPCTL_DOMAIN: 'env.example' }) });
    assert.equal(withEnv.values.domain, 'env.example');
    assert.equal(withEnv.sources.domain.source, 'env');

    const withRc = resolveConfig({ ...base, flags: { kamctlrc: rc }, env: env() });
    assert.equal(withRc.values.domain, 'rc.example');
    assert.equal(withRc.values.db, 'sqlite:///from/kamctlrc.db');
    assert.equal(withRc.sources.domain.source, 'kamctlrc');
    assert.equal(withRc.sources.domain.detail, rc);

    const withFile = resolveConfig({ ...base, env: env() });
    assert.equal(withFile.values.domain, 'file.example');
    assert.equal(withFile.values.db, 'sqlite:///from/file.db');
    assert.equal(withFile.values.hash, 'md5');
    assert.equal(withFile.sources.domain.source, 'file');
    assert.equal(withFile.sources.domain.detail, cfgFile);

    const defaults = resolveConfig({ searchPaths: [join(dir, 'absent.json')], env: env() });
    assert.equal(defaults.values.domain, undefined);
    assert.equal(defaults.values.hash, 'md5');
    assert.equal(defaults.values.timeoutMs, 5000);
    assert.equal(defaults.values.storePlaintext, false);
    assert.equal(defaults.values.db, 'sqlite://' + join(dir, 'home', '.local', 'share', 'sipctl', 'sipctl.db'));
    assert.deepEqual(defaults.files, []);
    for (const s of Object.values(defaults.sources)) assert.equal(s.source, 'default');
  });

  test('SIPCTL_KAMCTLRC is used when no --kamctlrc flag is given', () => {
    const r = resolveConfig({ env: env({ SIPCTL_KAMCTLRC: rc }), searchPaths: [] });
    assert.equal(r.values.domain, 'rc.example');
    assert.equal(r.sources.domain.source, 'kamctlrc');
  });

  test('the first config file found on the search path wins; missing ones are skipped', () => {
    const second = json({ domain: 'second.example' });
    const r1 = resolveConfig({ env: env(), searchPaths: [join(dir, 'nope.json'), second] });
    assert.equal(r1.values.domain, 'second.example');
    const r2 = resolveConfig({ env: env(), searchPaths: [cfgFile, second] });
    assert.equal(r2.values.domain, 'file.example');
    assert.deepEqual(r2.files, [cfgFile]);
  });

  test('the default search path is $XDG_CONFIG_HOME/sipctl/config.json', () => {
    const xdg = join(dir, 'xdg');
    writeConfigFile(join(xdg, 'sipctl', 'config.json'), { domain: 'xdg.example' });
    const r = resolveConfig({ env: env({ XDG_CONFIG_HOME: xdg }) });
    assert.equal(r.values.domain, 'xdg.example');
  });

  test('an explicit --config (or SIPCTL_CONFIG) replaces the search path and must exist', () => {
    const explicit = json({ domain: 'explicit.example' });
    assert.equal(resolveConfig({ flags: { config: explicit }, env: env(), searchPaths: [cfgFile] }).values.domain, 'explicit.example');
    assert.equal(resolveConfig({ env: env({ SIPCTL_CONFIG: explicit }), searchPaths: [cfgFile] }).values.domain, 'explicit.example');
    assertConfigError(() => resolveConfig({ flags: { config: join(dir, 'missing.json') }, env: env() }), 'CONFIG_UNREADABLE', /missing\.json/);
  });

  test('environment values are coerced and validated; empty ones are ignored', () => {
    const r = resolveConfig({
      env: env({ SIPCTL_STORE_PLAINTEXT: 'yes', SIPCTL_HASH: 'SHA-256', SIPCTL_TIMEOUT: '250', SIPCTL_RPC: 'http://a:1/RPC, http://b:2/RPC', SIPCTL_DOMAIN: '' }),
      searchPaths: [cfgFile],
    });
    assert.equal(r.values.storePlaintext, true);
    assert.equal(r.values.hash, 'sha256');
    assert.equal(r.values.timeoutMs, 250);
    assert.deepEqual(r.values.rpc, ['http://a:1/RPC', 'http://b:2/RPC']);
    assert.equal(r.values.domain, 'file.example', 'empty SIPCTL_DOMAIN does not override');
    assertConfigError(() => resolveConfig({ env: env({ SIPCTL_TIMEOUT: 'soon' }), searchPaths: [] }), 'CONFIG_BAD_VALUE', /SIPCTL_TIMEOUT/);
    assertConfigError(() => resolveConfig({ env: env({ SIPCTL_HASH: 'sha1' }), searchPaths: [] }), 'CONFIG_BAD_VALUE', /md5 or sha256/);
    assertConfigError(() => resolveConfig({ env: env({ SIPCTL_STORE_PLAINTEXT: 'maybe' }), searchPaths: [] }), 'CONFIG_BAD_VALUE');
  });

  test('flags are validated the same way', () => {
    assertConfigError(() => resolveConfig({ flags: { hash: 'crc32' as never }, env: env(), searchPaths: [] }), 'CONFIG_BAD_VALUE', /--hash/);
    const r = resolveConfig({ flags: { storePlaintext: true, hash: 'sha256' }, env: env({ SIPCTL_STORE_PLAINTEXT: '0' }), searchPaths: [] });
    assert.equal(r.values.storePlaintext, true);
    assert.equal(r.sources.storePlaintext.source, 'flag');
  });
});

describe('config show masking', () => {
  const SECRET = 'Hunter2-very-secret';
  function everything(): ResolvedConfig {
    const f = json({
      db: `mysql://kam:${SECRET}@db.example:3306/kamailio`,
      dbPassword: SECRET,
      rpc: [`http://admin:${SECRET}@proxy1:5071/RPC`],
      nodes: { edge: `http://ops:${SECRET}@edge:5071/RPC` },
    });
    return resolveConfig({ env: env(), searchPaths: [f] });
  }

  test('describeConfig never contains a password, from any key', () => {
    const rows = describeConfig(everything());
    const text = JSON.stringify(rows);
    assert.ok(!text.includes(SECRET), text);
    const get = (k: string) => rows.find((r) => r.key === k)?.value;
    assert.equal(get('dbPassword'), '****');
    assert.equal(get('db'), 'mysql://kam:****@db.example:3306/kamailio');
    assert.equal(get('rpc'), 'http://admin:****@proxy1:5071/RPC');
    assert.equal(get('nodes'), 'edge=http://ops:****@edge:5071/RPC');
    assert.ok(rows.some((r) => r.key === 'domain' && r.value === '' && r.source === 'default'));
  });

  test('a password from the environment is masked too, and its source is named', () => {
    const rows = describeConfig(resolveConfig({ env: env({ SIPCTL_DB_PASSWORD: SECRET, SIPCTL_DB: 'mysql://kam@h/k' }), searchPaths: [] }));
    assert.ok(!JSON.stringify(rows).includes(SECRET));
    assert.deepEqual(rows.find((r) => r.key === 'dbPassword'), { key: 'dbPassword', value: '****', source: 'env (SIPCTL_DB_PASSWORD)' });
  });

  test('a password in the db URL is noted in the source', () => {
    const r = resolveConfig({ flags: { db: `mysql://u:${SECRET}@h/db` }, env: env(), searchPaths: [] });
    assert.match(r.sources.db.detail ?? '', /password in URL/);
    assert.ok(!JSON.stringify(describeConfig(r)).includes(SECRET));
  });

  test('maskUrl', () => {
    assert.equal(maskUrl('mysql://u:p@h:3306/db'), 'mysql://u:****@h:3306/db');
    assert.equal(maskUrl('mysql://u:p%40ss:word@h/db'), 'mysql://u:****@h/db');
    assert.equal(maskUrl('http://admin:x@127.0.0.1:5071/RPC'), 'http://admin:****@127.0.0.1:5071/RPC');
    assert.equal(maskUrl('mysql://u@h:3306/db'), 'mysql://u@h:3306/db');
    assert.equal(maskUrl('sqlite:///var/lib/x.db'), 'sqlite:///var/lib/x.db');
    assert.equal(urlHasPassword('mysql://u:p@h/db'), true);
    assert.equal(urlHasPassword('mysql://u@h/db'), false);
    assert.equal(urlHasPassword('mysql://h:3306/db'), false);
  });
});

describe('config file rules', () => {
  test('a file with dbPassword readable by others is refused with a chmod 600 hint', () => {
    const p = json({ db: 'mysql://kam@h/k', dbPassword: 'pw-in-file-1' }, 0o644);
    // resolving works (commands that need no password go on, with a warning); using the secret is refused
    const rc = resolveConfig({ env: env(), searchPaths: [p] });
    assert.match(insecureWarnings(rc).join('\n'), /holds a database password.*chmod 600/);
    const e = assertConfigError(() => assertSecretPrivate(rc, 'db'), 'CONFIG_INSECURE_MODE');
    assert.match(e.hint ?? '', new RegExp(`chmod 600 ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(e.message, /644/);
    assert.ok(!e.message.includes('pw-in-file-1') && !(e.hint ?? '').includes('pw-in-file-1'));
  });

  test('group-readable (0640) and a password inside the db URL count too', () => {
    assertConfigError(() => assertSecretPrivate(resolveConfig({ env: env(), searchPaths: [json({ dbPassword: 'x' }, 0o640)] }), 'db'), 'CONFIG_INSECURE_MODE', /chmod 600/);
    assertConfigError(() => assertSecretPrivate(resolveConfig({ env: env(), searchPaths: [json({ db: 'mysql://kam:pw@h/k' }, 0o644)] }), 'db'), 'CONFIG_INSECURE_MODE', /chmod 600/);
    // a database password is not an RPC secret: RPC commands are not refused for it
    assert.doesNotThrow(() => assertSecretPrivate(resolveConfig({ env: env(), searchPaths: [json({ dbPassword: 'x' }, 0o640)] }), 'rpc'));
  });

  test('mode 0600 with a password is accepted', () => {
    const p = json({ db: 'mysql://kam@h/k', dbPassword: 'pw-in-file-2' }, 0o600);
    const r = resolveConfig({ env: env(), searchPaths: [p] });
    assert.equal(r.values.dbPassword, 'pw-in-file-2');
    assert.equal(r.sources.dbPassword.source, 'file');
  });

  test('a file without secrets may be 0644', () => {
    const p = json({ db: 'mysql://kam@h/k', domain: 'open.example' }, 0o644);
    assert.equal(resolveConfig({ env: env(), searchPaths: [p] }).values.domain, 'open.example');
  });

  test('unknown keys, bad JSON and non-objects are refused', () => {
    assertConfigError(() => resolveConfig({ env: env(), searchPaths: [json({ db: 'sqlite:///x.db', dbpassword: 'typo' })] }), 'CONFIG_UNKNOWN_KEY', /dbpassword/);
    assertConfigError(() => resolveConfig({ env: env(), searchPaths: [file('{"db": ')] }), 'CONFIG_BAD_JSON');
    assertConfigError(() => resolveConfig({ env: env(), searchPaths: [file('["db"]')] }), 'CONFIG_BAD_JSON');
    assertConfigError(() => resolveConfig({ env: env(), searchPaths: [json({ timeoutMs: -1 })] }), 'CONFIG_BAD_VALUE');
    assertConfigError(() => resolveConfig({ env: env(), searchPaths: [json({ nodes: ['a'] })] }), 'CONFIG_BAD_VALUE');
  });

  test('writeConfigFile writes JSON with mode 0600 and will not overwrite without force', () => {
    const p = join(dir, 'written', 'sub', 'config.json');
    writeConfigFile(p, { db: 'mysql://kam@h/k', dbPassword: 'pw3' });
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(p, 'utf8')), { db: 'mysql://kam@h/k', dbPassword: 'pw3' });
    assert.throws(() => writeConfigFile(p, { domain: 'x' }), (e: unknown) => e instanceof ConflictError && e.code === 'CONFIG_EXISTS');
    writeConfigFile(p, { domain: 'x.example' }, { force: true });
    assert.deepEqual(JSON.parse(readFileSync(p, 'utf8')), { domain: 'x.example' });
    assert.equal(statSync(p).mode & 0o777, 0o600);
  });
});

describe('kamctlrc', () => {
  test('the lab kamctlrc (Kamailio 5.6 style) maps to a MySQL URL without the password', () => {
    const c = readKamctlrc(LAB_KAMCTLRC);
    assert.equal(c.db, 'mysql://kamailio@localhost/kamailio');
    assert.equal(c.dbPassword, 'kamailiorw');
    assert.ok(!c.db!.includes('kamailiorw'));
    assert.equal(c.domain, '127.0.0.1');
    assert.equal(c.storePlaintext, true, 'STORE_PLAINTEXT_PW unset: kamctl stores plaintext (kamctl.base)');
    assert.equal(c.hash, undefined);
  });

  test('DBPORT, quoting, STORE_PLAINTEXT_PW and MD5=sha256sum', () => {
    const c = readKamctlrc(join(FIXTURES, 'kamctlrc.sha256'));
    assert.deepEqual(c, {
      db: 'mysql://rw@db.example.com:3307/kam',
      dbPassword: 's3cret w/ spaces',
      domain: 'sip.example.com',
      storePlaintext: true,
      hash: 'sha256',
    });
  });

  test('DBENGINE=SQLITE uses DB_PATH and has no password', () => {
    const c = readKamctlrc(join(FIXTURES, 'kamctlrc.sqlite'));
    assert.deepEqual(c, { db: 'sqlite:///var/lib/kamailio/kamailio.sqlite', domain: 'lab.example.org', storePlaintext: false });
  });

  test('SQLITE without DB_PATH, an unsupported engine and a missing file are config errors', () => {
    assertConfigError(() => kamctlrcToConfig({ DBENGINE: 'SQLITE' }, 'x'), 'KAMCTLRC_NO_DB_PATH', /DB_PATH/);
    assertConfigError(() => kamctlrcToConfig({ DBENGINE: 'PGSQL' }, 'x'), 'KAMCTLRC_ENGINE', /PGSQL/);
    assertConfigError(() => readKamctlrc(join(dir, 'no-such-kamctlrc')), 'KAMCTLRC_UNREADABLE', /no-such-kamctlrc/);
  });

  test('CMDHASH is accepted as an alias of MD5; md5sum keeps md5', () => {
    assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL', CMDHASH: '/usr/bin/sha256sum' }, 'x').hash, 'sha256');
    assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL', MD5: 'md5sum' }, 'x').hash, undefined);
  });

  test('MySQL defaults follow kamctl (host localhost, user kamailio, password kamailiorw)', () => {
    assert.deepEqual(kamctlrcToConfig({ DBENGINE: 'MYSQL' }, 'x'), { db: 'mysql://kamailio@localhost/kamailio', dbPassword: 'kamailiorw', storePlaintext: true });
    assert.deepEqual(kamctlrcToConfig({ SIP_DOMAIN: 'only.example' }, 'x'), { domain: 'only.example', storePlaintext: true });
  });

  test('parseKamctlrc reads assignments only, never runs anything', () => {
    const vars = parseKamctlrc(
      [
        '#!/bin/sh',
        '# DBRWPW=commented',
        'export DBHOST=h1',
        "DBNAME='kam db'",
        'DBRWUSER="u"',
        'SIP_DOMAIN=plain.example   # trailing comment',
        'PID_FILE=$(rm -rf /tmp/should-not-run)',
        'if [ -z "$X" ]; then',
        '  INDENTED=yes',
        'fi',
        'EMPTY=',
      ].join('\n'),
    );
    assert.deepEqual(vars, {
      DBHOST: 'h1',
      DBNAME: 'kam db',
      DBRWUSER: 'u',
      SIP_DOMAIN: 'plain.example',
      PID_FILE: '$(rm -rf /tmp/should-not-run)',
      INDENTED: 'yes',
      EMPTY: '',
    });
  });

  test('a quoted value followed by a comment is unquoted like sh does', () => {
    assert.deepEqual(parseKamctlrc('DBRWPW="pw"  # the rw password\nSIP_DOMAIN=\'d.example\' # x'), { DBRWPW: 'pw', SIP_DOMAIN: 'd.example' });
  });
});
