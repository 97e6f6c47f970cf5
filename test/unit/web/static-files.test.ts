// Static files of the front end: fixed MIME types, no directory listing, nothing outside the directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticFile } from '../../../src/core/web/static-files.js';
import { climbs, checkListen, isLoopback, parseListen } from '../../../src/core/web/server.js';
import { WebError } from '../../../src/core/web/http-errors.js';

const status = (n: number) => (e: unknown) => e instanceof WebError && e.status === n;

test('index, assets with their MIME types; 404 for directories, unknown types, dot files; 400 for climbing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-web-static-'));
  try {
    const root = join(dir, 'web');
    mkdirSync(join(root, 'img'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(root, 'app.js'), 'export {}');
    writeFileSync(join(root, 'app.css'), 'body{}');
    writeFileSync(join(root, 'img', 'logo.svg'), '<svg/>');
    writeFileSync(join(root, 'notes.sh'), 'echo');
    writeFileSync(join(root, '.env'), 'SECRET=1');
    writeFileSync(join(dir, 'secret.js'), 'outside');
    symlinkSync(join(dir, 'secret.js'), join(root, 'link.js'));
    assert.equal((await staticFile(root, '/')).type, 'text/html; charset=utf-8');
    assert.equal((await staticFile(root, '/assets/app.js')).type, 'text/javascript; charset=utf-8');
    assert.equal((await staticFile(root, '/assets/app.css')).type, 'text/css; charset=utf-8');
    assert.equal((await staticFile(root, '/assets/img/logo.svg')).type, 'image/svg+xml');
    await assert.rejects(staticFile(root, '/assets/img'), status(404));
    await assert.rejects(staticFile(root, '/assets/notes.sh'), status(404));
    await assert.rejects(staticFile(root, '/assets/missing.js'), status(404));
    await assert.rejects(staticFile(root, '/package.json'), status(404));
    await assert.rejects(staticFile(root, '/assets/.env'), status(400));
    await assert.rejects(staticFile(root, '/assets/../secret.js'), status(400));
    await assert.rejects(staticFile(root, '/assets/%2e%2e/secret.js'), status(400));
    await assert.rejects(staticFile(root, '/assets/img/..%2F..%2Fsecret.js'), status(400));
    await assert.rejects(staticFile(root, '/assets/link.js'), status(400), 'a symlink out of the directory');
    await assert.rejects(staticFile(join(dir, 'none'), '/'), (e) => e instanceof WebError && e.code === 'WEB_NOT_BUILT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('raw paths that climb', () => {
  for (const p of ['/assets/../x', '/assets/%2e%2e/x', '/assets/%252e%252e/x', '/..', '/assets/a\\b', '/assets/%2E%2E%2Fx']) assert.equal(climbs(p), true, p);
  for (const p of ['/', '/assets/app.js', '/api/subscribers/alice%40example.com', '/assets/a..b.js']) assert.equal(climbs(p), false, p);
});

test('listen addresses: loopback without TLS, anything else only with it', () => {
  assert.deepEqual(parseListen('127.0.0.1:8088'), { host: '127.0.0.1', port: 8088 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListen(':8088'), { host: '0.0.0.0', port: 8088 });
  assert.throws(() => parseListen('8088'), /HOST:PORT/);
  assert.throws(() => parseListen('127.0.0.1:70000'), /HOST:PORT/);
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.0.2.1', 'example.com']) assert.equal(isLoopback(h), false, h);
  assert.throws(() => checkListen({ host: '0.0.0.0', port: 8088 }, false), (e) => (e as { code: string }).code === 'WEB_TLS_REQUIRED');
  checkListen({ host: '0.0.0.0', port: 8088 }, true);
  checkListen({ host: '127.0.0.1', port: 8088 }, false);
});
