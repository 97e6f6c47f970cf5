// Sessions (idle expiry, CSRF token per session) and the login lockout (sipd's digest-lockout semantics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore, sameToken } from '../../../src/core/web/sessions.js';
import { LoginLockout } from '../../../src/core/web/lockout.js';

test('sessions: random ids and CSRF tokens, idle expiry, maximum age, destroyUser', () => {
  let now = 1_000_000;
  const s = new SessionStore({ idleMs: 60_000, maxAgeMs: 600_000, now: () => now });
  const a = s.create({ name: 'ops', role: 'operator' });
  const b = s.create({ name: 'ops', role: 'operator' });
  assert.match(a.id, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.match(a.csrf, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.csrf, b.csrf);
  assert.notEqual(a.id, a.csrf);
  now += 59_000;
  assert.equal(s.get(a.id)?.user.name, 'ops', 'used within the idle time');
  now += 59_000;
  assert.ok(s.get(a.id), 'each use restarts the idle time');
  assert.equal(s.get(b.id), undefined, 'b was idle for 118 s');
  for (let i = 0; i < 12; i++) {
    now += 50_000;
    s.get(a.id);
  }
  assert.equal(s.get(a.id), undefined, 'ends at the maximum age even when used');
  const c = s.create({ name: 'noc', role: 'viewer' });
  const d = s.create({ name: 'ops', role: 'operator' });
  assert.equal(s.destroyUser('ops'), 1);
  assert.equal(s.get(d.id), undefined);
  assert.ok(s.get(c.id));
  s.destroy(c.id);
  assert.equal(s.get(c.id), undefined);
  assert.equal(s.get(undefined), undefined);
  assert.equal(s.get('x'.repeat(500)), undefined);
});

test('sameToken compares whole tokens', () => {
  assert.equal(sameToken('abc', 'abc'), true);
  assert.equal(sameToken('abd', 'abc'), false);
  assert.equal(sameToken('ab', 'abc'), false);
  assert.equal(sameToken(undefined, 'abc'), false);
});

test('lockout: max_failures per name and address, for failure_window after the last failure', () => {
  let now = 0;
  const l = new LoginLockout({ maxFailures: 3, sprayMaxFailures: 10, failureWindowSec: 900, now: () => now });
  assert.equal(l.fail('192.0.2.1', 'ops'), 0);
  assert.equal(l.fail('192.0.2.1', 'ops'), 0);
  assert.equal(l.fail('192.0.2.1', 'ops'), 900, 'the third failure locks');
  assert.equal(l.lockedFor('192.0.2.1', 'ops'), 900);
  assert.equal(l.lockedFor('192.0.2.2', 'ops'), 0, 'another address is not locked');
  assert.equal(l.lockedFor('192.0.2.1', 'noc'), 0, 'another name from the same address is not locked (yet)');
  now += 600_000;
  assert.equal(l.lockedFor('192.0.2.1', 'ops'), 300);
  now += 300_001;
  assert.equal(l.lockedFor('192.0.2.1', 'ops'), 0, 'the window passed');
  assert.equal(l.fail('192.0.2.1', 'ops'), 0, 'and counting starts again');
});

test('lockout: success clears the name counter, never the per-address (spray) counter', () => {
  let now = 0;
  const l = new LoginLockout({ maxFailures: 3, sprayMaxFailures: 5, failureWindowSec: 60, now: () => now });
  l.fail('198.51.100.9', 'ops');
  l.fail('198.51.100.9', 'ops');
  l.success('198.51.100.9', 'ops');
  assert.equal(l.fail('198.51.100.9', 'ops'), 0, 'the pair counter was cleared');
  // 3 failures so far from this address; two more names make 5: spray lockout for every name
  l.fail('198.51.100.9', 'a');
  assert.equal(l.fail('198.51.100.9', 'b'), 60);
  assert.equal(l.lockedFor('198.51.100.9', 'ops'), 60, 'a success does not reset the spray counter');
  assert.equal(l.lockedFor('198.51.100.10', 'ops'), 0);
  now += 61_000;
  assert.equal(l.lockedFor('198.51.100.9', 'ops'), 0);
});

test('lockout: 0 switches a limit off; names with ":" or "*" cannot collide with the address key', () => {
  const l = new LoginLockout({ maxFailures: 0, sprayMaxFailures: 0 });
  for (let i = 0; i < 50; i++) l.fail('192.0.2.1', 'ops');
  assert.equal(l.lockedFor('192.0.2.1', 'ops'), 0);
  const m = new LoginLockout({ maxFailures: 2, sprayMaxFailures: 100 });
  m.fail('192.0.2.1', '*');
  m.fail('192.0.2.1', '*');
  assert.ok(m.lockedFor('192.0.2.1', '*') > 0);
  assert.equal(m.lockedFor('192.0.2.1', 'other'), 0, 'the name "*" is not the per-address counter');
});
