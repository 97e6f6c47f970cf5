/** Digest pre-hashes as Kamailio's auth_db uses them, password strength rules, generated passwords. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, computeHa1, generatePassword, passwordWeaknesses, validatePassword } from '../../../src/core/subscribers/credentials.js';
import { ValidationError } from '../../../src/core/errors.js';

describe('computeHa1', () => {
  test('matches what kamctl 5.6 stored for 61312341234@127.0.0.1 (outputs/kamctl_add.txt)', () => {
    assert.deepEqual(computeHa1('61312341234', '127.0.0.1', 'supersecretpassword'), {
      ha1: '4a7cadd345e02b65cd9e2230bdd9128a',
      ha1b: '7c65f3b58133f64fa6111dda9c3398a0',
    });
  });

  test('md5 is the default; sha256 gives what `sha256sum` gives (kamctlrc MD5=sha256sum)', () => {
    assert.deepEqual(computeHa1('61312341234', '127.0.0.1', 'supersecretpassword', 'md5'), computeHa1('61312341234', '127.0.0.1', 'supersecretpassword'));
    // values from: printf %s '61312341234:127.0.0.1:supersecretpassword' | sha256sum
    assert.deepEqual(computeHa1('61312341234', '127.0.0.1', 'supersecretpassword', 'sha256'), {
      ha1: '750fda0e9d9960bb43a39d019dd53caa7f1e5f491664f100d3ed671f70063710',
      ha1b: '1cee8da76bccd890b6510c6780519a8d5531729a23afa4804693b20d7b616d36',
    });
  });

  test('realm is the domain, and every input changes the hash', () => {
    const base = computeHa1('alice', 'example.com', 'Str0ng-Passw0rd');
    assert.notEqual(computeHa1('alicf', 'example.com', 'Str0ng-Passw0rd').ha1, base.ha1);
    assert.notEqual(computeHa1('alice', 'example.org', 'Str0ng-Passw0rd').ha1, base.ha1);
    assert.notEqual(computeHa1('alice', 'example.com', 'Str0ng-Passw0rd!').ha1, base.ha1);
    assert.equal(base.ha1, createHash('md5').update('alice:example.com:Str0ng-Passw0rd').digest('hex'));
    assert.equal(base.ha1b, createHash('md5').update('alice@example.com:example.com:Str0ng-Passw0rd').digest('hex'));
  });

  test('non-ASCII passwords are hashed as UTF-8 bytes (what a SIP phone sends)', () => {
    const bytes = Buffer.from('bob:example.com:pässwörd-ß', 'utf8');
    assert.equal(computeHa1('bob', 'example.com', 'pässwörd-ß').ha1, createHash('md5').update(bytes).digest('hex'));
  });
});

describe('passwordWeaknesses', () => {
  test('an acceptable password has no reasons', () => {
    assert.deepEqual(passwordWeaknesses('supersecretpassword', '61312341234'), []);
    assert.deepEqual(passwordWeaknesses('correct-horse-battery', 'alice'), []);
  });

  test('short', () => {
    assert.equal(MIN_PASSWORD_LENGTH, 8);
    assert.deepEqual(passwordWeaknesses('Xy7!kq', 'alice'), ['shorter than 8 characters']);
    assert.deepEqual(passwordWeaknesses('Xy7!kqZz', 'alice'), []);
  });

  test('contains the username, case-insensitively', () => {
    assert.deepEqual(passwordWeaknesses('alice', 'alice'), ['shorter than 8 characters', 'contains the username']);
    assert.deepEqual(passwordWeaknesses('my-ALICE-pw-2024', 'alice'), ['contains the username']);
    assert.deepEqual(passwordWeaknesses('my-alice-pw-2024', ''), [], 'no username, no such rule');
  });

  test('digits only', () => {
    assert.deepEqual(passwordWeaknesses('84736251904', 'alice'), ['digits only']);
    assert.ok(passwordWeaknesses('61312341234', '61312341234').includes('contains the username'));
  });

  test('commonly used, case-insensitively', () => {
    assert.deepEqual(passwordWeaknesses('password', 'alice'), ['a commonly used password']);
    assert.deepEqual(passwordWeaknesses('QWERTY123', 'alice'), ['a commonly used password']);
    assert.deepEqual(passwordWeaknesses('12345678', 'alice'), ['digits only', 'a commonly used password']);
  });
});

describe('validatePassword', () => {
  const refuses = (pw: string, allowWeak: boolean, re: RegExp) =>
    assert.throws(() => validatePassword(pw, 'alice', allowWeak), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(e.code, 'INVALID_PASSWORD');
      assert.match(e.message, re);
      if (pw.length > 3) assert.ok(!e.message.includes(pw) && !(e.hint ?? '').includes(pw), 'the password is not echoed');
      return true;
    });

  test('weak passwords are refused with the reasons and the way out', () => {
    refuses('letmein1', false, /too weak: a commonly used password/);
    assert.throws(() => validatePassword('alice123', 'alice', false), (e: unknown) => e instanceof ValidationError && /--allow-weak/.test(e.hint ?? '') && /--generate/.test(e.hint ?? ''));
  });

  test('--allow-weak accepts a weak one, but never an empty, over-long or control-character one', () => {
    assert.equal(validatePassword('letmein1', 'alice', true), 'letmein1');
    refuses('', true, /must not be empty/);
    refuses('x'.repeat(MAX_PASSWORD_LENGTH + 1), true, /longer than 64/);
    refuses('line1\nline2-abcdef', true, /control character/);
    refuses('tab\there-abcdef', true, /control character/);
    assert.equal(validatePassword('y'.repeat(MAX_PASSWORD_LENGTH), 'alice', false), 'y'.repeat(MAX_PASSWORD_LENGTH));
  });
});

describe('generatePassword', () => {
  const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

  test('20 characters by default, any length on request', () => {
    assert.equal(generatePassword().length, 20);
    assert.equal(generatePassword(32).length, 32);
    assert.equal(generatePassword(1).length, 1);
  });

  test('only unambiguous characters (no 0 O 1 l I), and all of them get used', () => {
    const sample = Array.from({ length: 300 }, () => generatePassword()).join('');
    assert.match(sample, /^[a-km-zA-HJ-NP-Z2-9]+$/);
    assert.doesNotMatch(sample, /[0O1lI]/);
    assert.equal(new Set(sample).size, ALPHABET.length, 'every alphabet character appears in 6000 draws');
  });

  test('unique, and strong by our own rules', () => {
    const many = Array.from({ length: 2000 }, () => generatePassword());
    assert.equal(new Set(many).size, many.length);
    for (const p of many.slice(0, 200)) assert.deepEqual(passwordWeaknesses(p, 'bob-1'), []);
  });
});
