/** RFC 3261 user parts and hosts: what may reach the subscriber table. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_USERNAME, splitAor, validateDomain, validateUsername } from '../../../src/core/subscribers/identity.js';
import { ValidationError } from '../../../src/core/errors.js';

function rejects(fn: () => unknown, field: 'username' | 'domain', re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValidationError, `expected ValidationError, got ${String(e)}`);
    assert.equal(e.field, field);
    assert.equal(e.code, `INVALID_${field.toUpperCase()}`);
    assert.equal(e.category, 'usage');
    if (re) assert.match(e.message, re);
    return true;
  });
}

describe('validateUsername (RFC 3261 §25.1 user)', () => {
  const good = [
    '61312341234',
    'alice.smith',
    'a%20b',
    "o'brien",
    'A-Z_0.9!~*()',
    'x&y=z+1$2,3;4?5/6',
    '%41%4a%4A',
    'a',
    'x'.repeat(MAX_USERNAME),
  ];
  for (const u of good) test(`accepts ${JSON.stringify(u)}`, () => assert.equal(validateUsername(u), u));

  const bad: Array<[string, RegExp]> = [
    ['john doe', /space/],
    ["'; DROP TABLE subscriber; --", /space/],
    ['bob";', /contains """, which RFC 3261 does not allow/],
    ['a\u0000b', /control character U\+0000/],
    ['a\nb', /control character U\+000A/],
    ['a\tb', /space|control/],
    ['del\u007f', /control character U\+007F/],
    ['x'.repeat(MAX_USERNAME + 1), /65 characters; the maximum is 64/],
    ['jürgen', /non-ASCII/],
    ['名前', /non-ASCII/],
    ['a%2', /malformed %XX escape/],
    ['a%zz', /malformed %XX escape/],
    ['100%', /malformed %XX escape/],
    ['', /must not be empty/],
    ['a@b', /"@"/],
    ['a:b', /":"/],
    ['<alice>', /"<"/],
    ['a#b', /"#"/],
    ['a\\b', /contains "\\"/],
  ];
  for (const [u, re] of bad) {
    test(`refuses ${JSON.stringify(u)}`, () => rejects(() => validateUsername(u), 'username', re));
  }

  test('an SQL-looking name made only of RFC 3261 characters is a legal user part (the DB layer must bind it)', () => {
    // Validation is not what protects the database; parameter binding is (tested in subscribers.test.ts).
    assert.equal(validateUsername("';DROP/**/TABLE/**/subscriber;--"), "';DROP/**/TABLE/**/subscriber;--");
  });

  test('error messages say what is wrong without echoing control characters', () => {
    try {
      validateUsername('evil\u001b[2J');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof ValidationError);
      assert.ok(!e.message.includes('\u001b'), e.message);
      assert.match(e.message, /U\+001B/);
    }
  });
});

describe('validateDomain', () => {
  const good: Array<[string, string]> = [
    ['example.com', 'example.com'],
    ['sip.example.com', 'sip.example.com'],
    ['Example.COM', 'example.com'],
    ['localhost', 'localhost'],
    ['a-b.c-d.example', 'a-b.c-d.example'],
    ['xn--mnchen-3ya.de', 'xn--mnchen-3ya.de'],
    ['127.0.0.1', '127.0.0.1'],
    ['10.0.0.254', '10.0.0.254'],
    ['[::1]', '[::1]'],
    ['[2001:db8::5]', '[2001:db8::5]'],
    ['example.com.', 'example.com.'],
    [`${'a'.repeat(60)}.com`, `${'a'.repeat(60)}.com`],
  ];
  for (const [d, want] of good) test(`accepts ${d}`, () => assert.equal(validateDomain(d), want));

  const bad: Array<[string, RegExp?]> = [
    ['', /must not be empty/],
    ['-a.com'],
    ['a-.com'],
    ['a..com'],
    ['.a.com'],
    ['a_b.com'],
    ['exa mple.com', /space/],
    ['ex\u0000.com', /control character/],
    ['münchen.de', /non-ASCII/],
    ['[::1'],
    ['[1.2.3.4]', /IPv6/],
    ['[zz::1]', /IPv6/],
    ['1.2.3', /neither a hostname nor an IP/],
    ['256.1.1.1', /neither a hostname nor an IP/],
    ['a'.repeat(65), /maximum is 64/],
    [`${'a'.repeat(64)}.com`],
    ['host:5060'],
    ['user@host'],
    ["x'; DROP TABLE subscriber; --"],
  ];
  for (const [d, re] of bad) test(`refuses ${JSON.stringify(d.length > 40 ? d.slice(0, 20) + '…' : d)}`, () => rejects(() => validateDomain(d), 'domain', re));
});

describe('splitAor', () => {
  test('user@domain, with and without a sip:/sips: scheme', () => {
    assert.deepEqual(splitAor('alice@example.com'), { username: 'alice', domain: 'example.com' });
    assert.deepEqual(splitAor('sip:alice@Example.COM'), { username: 'alice', domain: 'example.com' });
    assert.deepEqual(splitAor('SIPS:bob@[::1]'), { username: 'bob', domain: '[::1]' });
    assert.deepEqual(splitAor('61312341234@127.0.0.1', 'ignored.example'), { username: '61312341234', domain: '127.0.0.1' });
  });

  test('a bare user takes the default domain', () => {
    assert.deepEqual(splitAor('alice', 'def.example'), { username: 'alice', domain: 'def.example' });
  });

  test('no domain anywhere is a ValidationError naming the ways to give one', () => {
    rejects(() => splitAor('alice'), 'domain', /no domain in "alice"/);
    rejects(() => splitAor('alice@'), 'domain');
    rejects(() => splitAor('alice', ''), 'domain');
  });

  test('the parts are validated: the last @ separates, so a@b@host has an illegal user', () => {
    rejects(() => splitAor('a@b@example.com'), 'username', /"@"/);
    rejects(() => splitAor('@example.com'), 'username', /empty/);
    rejects(() => splitAor('john doe@example.com'), 'username', /space/);
    rejects(() => splitAor('alice@bad..domain'), 'domain');
  });
});
