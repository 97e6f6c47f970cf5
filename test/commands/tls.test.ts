// `sipctl tls selfsigned` as a user runs it: the BUILT bin (npm run build && npx oclif manifest
// first), real files, modes and exit codes. The key never appears in any output.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import { requireTools } from '../helpers/require.js';

before(() => requireTools('openssl'));

const dir = mkdtempSync(join(tmpdir(), 'sipctl-tlscli-'));
const env = isolatedEnv({ NO_COLOR: '1' });
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(env.HOME!, { recursive: true, force: true });
});
const run = (args: string[]) => runSipctl(['tls', 'selfsigned', ...args], { env, timeoutMs: 60_000 });
const show = (r: RunResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

function noKeyIn(r: RunResult, keyPath: string): void {
  if (!existsSync(keyPath)) return;
  const pem = readFileSync(keyPath, 'utf8');
  const body = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  for (const line of body) assert.ok(!r.stdout.includes(line) && !r.stderr.includes(line), 'key material in the output');
}

test('tls selfsigned --json: cert.pem + key.pem (0600), paths, subject, SANs and the SHA-256 fingerprint', async () => {
  const out = join(dir, 'a', 'nested');
  const r = await run(['--out-dir', out, '--json']);
  assert.equal(r.code, 0, show(r));
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['cert', 'key', 'subject', 'subjectAltName', 'fingerprint256', 'validFrom', 'validTo', 'keyType']);
  assert.equal(doc.cert, join(out, 'cert.pem'));
  assert.equal(doc.key, join(out, 'key.pem'));
  assert.equal(doc.subject, 'CN=localhost');
  assert.deepEqual(doc.subjectAltName, ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']);
  assert.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
  const x509 = new X509Certificate(readFileSync(join(out, 'cert.pem')));
  assert.equal(doc.fingerprint256, x509.fingerprint256);
  assert.ok(x509.checkPrivateKey(createPrivateKey(readFileSync(join(out, 'key.pem')))), 'the key belongs to the certificate');
  assert.equal(x509.publicKey.asymmetricKeyType, 'ec');
  const days = (Date.parse(String(doc.validTo)) - Date.parse(String(doc.validFrom))) / 86_400_000;
  assert.equal(Math.round(days), 365);
  assert.equal(r.stderr, '');
  assert.deepEqual(readdirSync(out).sort(), ['cert.pem', 'key.pem'], 'no temporary files left');
  noKeyIn(r, join(out, 'key.pem'));
});

test('tls selfsigned: human output; --cn/--days/--san/--key-type; existing files need --force', async () => {
  const out = join(dir, 'b');
  const r = await run(['--cn', 'sip.example.com', '--san', '192.0.2.10', '--san', 'proxy.example.com', '--days', '30', '--key-type', 'rsa', '--out-dir', out]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`^certificate\\s+${join(out, 'cert.pem')}$`, 'm'));
  assert.match(r.stdout, /^key\s+\S+key\.pem \(0600\)$/m);
  assert.match(r.stdout, /^SHA-256\s+([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
  const x509 = new X509Certificate(readFileSync(join(out, 'cert.pem')));
  assert.equal(x509.subject, 'CN=sip.example.com');
  assert.equal(x509.subjectAltName, 'DNS:sip.example.com, IP Address:192.0.2.10, DNS:proxy.example.com');
  assert.equal(x509.publicKey.asymmetricKeyType, 'rsa');
  assert.equal(Math.round((Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / 86_400_000), 30);
  noKeyIn(r, join(out, 'key.pem'));

  const before = readFileSync(join(out, 'key.pem'), 'utf8');
  const again = await run(['--out-dir', out]);
  assert.equal(again.code, 4, show(again));
  assert.match(again.stderr, /^sipctl: .*cert\.pem already exists \(choose another --out-dir, or --force to replace it\)$/m);
  assert.equal(readFileSync(join(out, 'key.pem'), 'utf8'), before, 'nothing replaced');
  const forced = await run(['--out-dir', out, '--force', '--cn', 'alice']);
  assert.equal(forced.code, 0, show(forced));
  assert.notEqual(readFileSync(join(out, 'key.pem'), 'utf8'), before);
  assert.equal(new X509Certificate(readFileSync(join(out, 'cert.pem'))).subject, 'CN=alice');
  assert.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
});

test('tls selfsigned: bad values are usage errors (exit 2) and write nothing', async () => {
  const out = join(dir, 'c');
  for (const args of [['--cn', 'a/b=c'], ['--cn', ''], ['--days', '0'], ['--days', '4000'], ['--san', 'not a name'], ['--key-type', 'dsa']]) {
    const r = await run([...args, '--out-dir', out]);
    assert.equal(r.code, 2, `${args.join(' ')}\n${show(r)}`);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('sipctl: ')).length, 1, show(r));
    assert.ok(!existsSync(join(out, 'key.pem')));
  }
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const r = await run(['--out-dir', file, '--json']);
  assert.equal(r.code, 2, show(r));
  assert.equal(JSON.parse(r.stderr).error.code, 'INVALID_OUT_DIR');
});
