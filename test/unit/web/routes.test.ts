// Helpers of the web API: the sipctl command line shown for a change, list paging, CDRs per hour,
// and the HTTP status of each error category.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLine, paging, perHour, shellArg } from '../../../src/core/web/routes.js';
import { WebError, errorResponse } from '../../../src/core/web/http-errors.js';
import { ConflictError, NotFoundError, SipctlError, UsageError, ValidationError } from '../../../src/core/errors.js';

test('command lines quote what the shell would read differently', () => {
  assert.equal(shellArg('alice@example.com'), 'alice@example.com');
  assert.equal(shellArg('sip:bob@127.0.0.1:5060;transport=udp'), "'sip:bob@127.0.0.1:5060;transport=udp'");
  assert.equal(shellArg("it's"), "'it'\\''s'");
  assert.equal(shellArg(''), "''");
  assert.equal(shellArg('$(rm -rf /)'), "'$(rm -rf /)'");
  assert.equal(commandLine('address', 'rm', '200', '10.0.0.1', false, undefined, '--yes'), 'sipctl address rm 200 10.0.0.1 --yes');
  assert.equal(commandLine('address', 'add', 200, '10.0.0.1', 32, 0, 'carrier <b>1</b>'), "sipctl address add 200 10.0.0.1 32 0 'carrier <b>1</b>'");
});

test('paging: limit 1..500 (default 50), offset from 0, q at most 128 characters', () => {
  assert.deepEqual(paging(new URLSearchParams('')), { q: '', offset: 0, limit: 50 });
  assert.deepEqual(paging(new URLSearchParams('q=ali&offset=100&limit=500')), { q: 'ali', offset: 100, limit: 500 });
  for (const bad of ['limit=0', 'limit=501', 'limit=-1', 'offset=x', 'limit=1e3', `q=${'x'.repeat(129)}`]) {
    assert.throws(() => paging(new URLSearchParams(bad)), ValidationError, bad);
  }
});

test('calls per hour: every hour of the range, calls counted by start time', () => {
  const from = new Date('2026-12-06T10:20:00Z');
  const to = new Date('2026-12-06T13:05:00Z');
  const call = (start: string) => ({ id: 1, start, end: start, duration: 0 });
  const r = perHour([call('2026-12-06T10:59:59Z'), call('2026-12-06T11:00:00Z'), call('2026-12-06T11:30:00Z'), call('2026-12-06T09:59:00Z')], from, to);
  assert.deepEqual(r, [
    { hour: '2026-12-06T10:00:00.000Z', calls: 1 },
    { hour: '2026-12-06T11:00:00.000Z', calls: 2 },
    { hour: '2026-12-06T12:00:00.000Z', calls: 0 },
    { hour: '2026-12-06T13:00:00.000Z', calls: 0 },
  ]);
  assert.throws(() => perHour([], new Date('2020-01-01'), new Date('2026-01-01')), ValidationError);
});

test('errors: category → status; anything that is not a SipctlError is 500 with nothing of its text', () => {
  assert.equal(errorResponse(new UsageError('X', 'bad')).status, 400);
  assert.equal(errorResponse(new NotFoundError('SUBSCRIBER_NOT_FOUND', 'no such')).status, 404);
  assert.equal(errorResponse(new ConflictError('SUBSCRIBER_EXISTS', 'exists')).status, 409);
  for (const category of ['connection', 'remote', 'timeout', 'protocol'] as const) assert.equal(errorResponse(new SipctlError('E', 'x', { category })).status, 502, category);
  const locked = errorResponse(new WebError(429, 'LOGIN_LOCKED', 'wait', { retryAfter: 12 }));
  assert.deepEqual([locked.status, locked.retryAfter, locked.body.error.code], [429, 12, 'LOGIN_LOCKED']);
  const bug = errorResponse(new TypeError("Cannot read properties of undefined (reading 'secret-thing')"));
  assert.equal(bug.status, 500);
  assert.equal(bug.internal, true);
  assert.ok(!JSON.stringify(bug.body).includes('secret-thing'));
  const internal = errorResponse(new SipctlError('INTERNAL', '/srv/path/leak.ts exploded', { category: 'internal' }));
  assert.ok(!JSON.stringify(internal.body).includes('leak'));
  const multi = errorResponse(new UsageError('X', 'line one\nline two'));
  assert.equal(multi.body.error.message, 'line one; line two', 'one line');
});
