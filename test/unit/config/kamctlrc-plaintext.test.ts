/** Issue 11 §1: STORE_PLAINTEXT_PW exactly as kamctl.base and kamctl read it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { kamctlrcToConfig, readKamctlrc } from '../../../src/core/config/kamctlrc.js';

const STOCK = fileURLToPath(new URL('../../fixtures/kamailio/kamctlrc.debian-stock', import.meta.url));

test("unset or empty STORE_PLAINTEXT_PW means plaintext stored (kamctl.base sets it to 1); only '1' stores it", () => {
  assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL' }, 'x').storePlaintext, true);
  assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL', STORE_PLAINTEXT_PW: '' }, 'x').storePlaintext, true);
  assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL', STORE_PLAINTEXT_PW: '1' }, 'x').storePlaintext, true);
  assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL', STORE_PLAINTEXT_PW: '0' }, 'x').storePlaintext, false);
  // kamctl tests `[ "$STORE_PLAINTEXT_PW" = "1" ]`: "yes" does not store plaintext there either
  assert.equal(kamctlrcToConfig({ DBENGINE: 'MYSQL', STORE_PLAINTEXT_PW: 'yes' }, 'x').storePlaintext, false);
});

test("Debian's stock kamctlrc (everything commented out): plaintext stored, no database settings", () => {
  assert.deepEqual(readKamctlrc(STOCK), { storePlaintext: true });
});
