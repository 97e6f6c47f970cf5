// The lab config in test/fixtures/kamailio/kamailio.cfg is Debian's stock kamailio.cfg run through
// lab/make_cfg.py: deriving it again from the installed stock file still gives the same bytes.
// When a Kamailio package changes its stock cfg, this fails first and says where to look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_CFG, LAB_DIR } from '../helpers/kamailio.js';
import { requireComponent, requireTools } from '../helpers/require.js';

/** The stock cfg as the package shipped it: /etc's copy (or setup.sh's .orig) whose md5 dpkg recorded. */
function stockCfg(): string | undefined {
  const q = spawnSync('dpkg-query', ['-W', '-f=${Conffiles}', 'kamailio'], { encoding: 'utf8' });
  const md5 = / \/etc\/kamailio\/kamailio\.cfg ([0-9a-f]{32})/.exec(q.stdout ?? '')?.[1];
  if (!md5) return undefined;
  for (const p of ['/etc/kamailio/kamailio.cfg', '/etc/kamailio/kamailio.cfg.orig']) {
    try {
      if (createHash('md5').update(readFileSync(p)).digest('hex') === md5) return p;
    } catch {
      /* not there */
    }
  }
  return undefined;
}

test('the lab cfg is derived from the installed stock kamailio.cfg by lab/make_cfg.py', () => {
  requireTools('python3', 'dpkg-query');
  const stock = stockCfg();
  requireComponent(stock ? undefined : "Debian's unmodified /etc/kamailio/kamailio.cfg (package kamailio; an edited copy does not count — keep the original as kamailio.cfg.orig)");
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-labcfg-'));
  try {
    const out = join(dir, 'kamailio.cfg');
    const r = spawnSync('python3', [join(LAB_DIR, 'lab', 'make_cfg.py'), stock!, out], { encoding: 'utf8' });
    assert.equal(r.status, 0, `make_cfg.py failed (the stock cfg changed?): ${r.stderr}${r.stdout}`);
    assert.equal(readFileSync(out, 'utf8'), readFileSync(LAB_CFG, 'utf8'), 'derived cfg differs from test/fixtures/kamailio/kamailio.cfg');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
