// A clone must carry everything it needs: no tracked file (code, tests, benches, scripts, docs,
// comments) may name a path outside the repository. The rule:
//   - forbidden: the sibling notes folder (`..` + `/shared`), and absolute paths under the
//     machine-specific roots work, home, root and Users (see MACHINE_ROOTS);
//   - forbidden: a relative path that climbs above the repository root from the file it is in
//     (a literal of `../` steps, or path.join(x, '..', '..'), with more steps than the file is
//     deep; in Markdown only link targets count, so a quoted log line from Kamailio's source tree
//     does not);
//   - allowed: system paths a Debian install provides (/usr/sbin/kamailio, /run/mysqld,
//     /etc/kamailio, /usr/share/kamailio, /tmp, /proc …).
// The patterns are assembled from pieces so this file does not match itself.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO } from '../../helpers/cli.js';

const SHARED = ['..', 'shared'].join('/');
const MACHINE_ROOTS = ['work', 'home', 'root', 'Users'].map((d) => `/${d}/`);
// an absolute machine path: the root not preceded by a word character, dot, tilde or slash (so
// a URL path such as github.com/x/home/ or a home-relative ~/… does not count)
const ABSOLUTE = new RegExp(`(?<![\\w.~/-])(?:${MACHINE_ROOTS.map((r) => r.replace(/\//g, '\\/')).join('|')})`);

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' });
  return out.split('\0').filter(Boolean);
}

/** How many `..` steps the longest relative path literal on `line` takes. */
function climb(line: string): number {
  let most = 0;
  for (const m of line.matchAll(/(?:\.\.\/)+/g)) most = Math.max(most, m[0].length / 3);
  // path.join(here, '..', '..') / resolve(x, "..", "..")
  for (const m of line.matchAll(/(['"])\.\.\1(?:\s*,\s*(['"])\.\.\2)*/g)) most = Math.max(most, (m[0].match(/\.\./g) ?? []).length);
  return most;
}

export function violations(file: string, text: string): string[] {
  const found: string[] = [];
  const depth = dirname(file) === '.' ? 0 : dirname(file).split('/').length;
  const markdown = file.endsWith('.md');
  text.split('\n').forEach((line, i) => {
    const where = `${file}:${i + 1}: ${line.trim().slice(0, 160)}`;
    const paths = markdown ? [...line.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).join(' ') : line;
    if (line.includes(SHARED)) found.push(`${where}  (names the notes folder beside the repo)`);
    else if (ABSOLUTE.test(line)) found.push(`${where}  (absolute path on one machine)`);
    else if (climb(paths) > depth) found.push(`${where}  (relative path climbs above the repository root)`);
  });
  return found;
}

test('the rule catches what it should and lets system paths pass', () => {
  const bad = [
    `const x = '${SHARED}/kamailio/kamailio.cfg';`,
    `// recorded in ${MACHINE_ROOTS[0]}shared/kamailio/outputs`,
    `cp ${MACHINE_ROOTS[2]}.ssh/x .`,
    `new URL('${'../'.repeat(4)}vectors.json', import.meta.url)`,
    `path.join(here, ${Array(4).fill("'..'").join(', ')}, 'notes')`,
  ];
  for (const line of bad) assert.equal(violations('test/unit/sim/x.ts', line).length, 1, line);
  const ok = [
    "const BIN = '/usr/sbin/kamailio';",
    "socketPath: '/run/mysqld/mysqld.sock'",
    'cp kamctlrc /etc/kamailio/kamctlrc',
    "new URL('../../fixtures/kamailio/kamctlrc', import.meta.url)",
    "path.join(here, '..', '..', 'fixtures')",
    'see https://github.com/kamailio/kamailio/tree/master/src/modules/usrloc/',
  ];
  for (const line of ok) assert.deepEqual(violations('test/unit/sim/x.ts', line), [], line);
  // a file at the root may not climb at all
  assert.equal(violations('README.md', `See [notes](${'../'}notes.md)`).length, 1);
  assert.deepEqual(violations('bench/RESULTS.md', `log: \`usrloc [${'../'.repeat(2)}core/ut.h:861]\``), [], 'not a link');
});

test('no tracked file names a path outside the repository', () => {
  const found: string[] = [];
  const files = trackedFiles();
  assert.ok(files.length > 100, `git ls-files listed only ${files.length} files`);
  for (const f of files) {
    const abs = join(REPO, f);
    let buf: Buffer;
    try {
      if (!statSync(abs).isFile()) continue;
      buf = readFileSync(abs);
    } catch {
      continue; // deleted in the work tree but still tracked (someone mid-edit)
    }
    if (buf.includes(0)) continue; // binary
    found.push(...violations(f, buf.toString('utf8')));
  }
  assert.deepEqual(found, [], `paths outside the repository:\n${found.join('\n')}`);
});
