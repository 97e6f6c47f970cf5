#!/usr/bin/env node
// Reads the TAP that scripts/test.sh has node's test runner write beside its spec output (the
// main suite under the system's Node, and scripts/test-node-versions.sh's files for Node 22 and
// 24), lists every skipped test by name, every failing test by its full name (suite › subtest)
// with the head of its diagnostic (error, expected/actual, location), and ends with one plain
// line over all of them:
// `N passed, N failed, N skipped`. Exit status 1 when anything failed or was cancelled, when a
// runner exited non-zero, when a TAP file has no totals (its runner crashed or never ran), or
// when a test was skipped that is not an opt-in suite below: a missing component must fail
// (test/helpers/require.ts), never skip.
//   node scripts/test-summary.mjs FILE.tap [node's exit status] [FILE.tap [status]]...
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';

/**
 * The only skips a run may contain: suites a person turns on with an environment variable.
 * A skip counts as opt-in when its name matches here AND its reason starts with "opt-in:".
 */
const OPT_IN = [
  { name: /^ul dump of \d+ contacts from \w+$/, how: 'SIPCTL_TEST_UL_LARGE=1 (test/interop/rpc-ul-large.test.ts)' },
];

/** FILE.tap, each optionally followed by the exit status of the runner that wrote it */
const runs = [];
for (const a of process.argv.slice(2)) {
  if (/^\d+$/.test(a) && runs.length > 0 && runs[runs.length - 1].status === undefined) runs[runs.length - 1].status = a;
  else runs.push({ file: a, status: undefined });
}
if (runs.length === 0) {
  console.error('usage: test-summary.mjs FILE.tap [node exit status] [FILE.tap [status]]...');
  process.exit(2);
}

const RESULT = /^( *)(ok|not ok) \d+ - (.*?)(?: # (SKIP|TODO)\b ?(.*))?$/;
const SUBTEST = /^( *)# Subtest: (.*)$/;
const skipped = [];
const todo = [];
/**
 * Failing tests, innermost first as TAP reports them. A CI log must say why a test failed, not
 * only which file: the diagnostic's head is kept, capped, so a run with many failures stays short.
 */
const failures = [];
const DIAG_LINES = 15;
const DIAG_WIDTH = 300;
/** the test's own diagnostics after its result (t.diagnostic(), e.g. the sipd log lines test/daemon/cluster-fixture.ts adds) */
const NOTE_LINES = 8;
const MAX_FAILURES = 20;
/** YAML lines that say nothing about why a test failed: timing, the location (it is in the heading),
 *  and stack frames inside node itself (the test runner, promises) */
const NOISE = /^(duration_ms|type|location): |^  (async )?(\S+ \((node:.*|<anonymous>)\)|node:\S+)$/;

/**
 * The YAML block after the result line at `i` (indented `indent` + 2), without its --- and ...,
 * and the "# " lines at the test's own indent right after it (its diagnostics).
 */
function diagnostic(lines, i, indent) {
  const pad = ' '.repeat(indent + 2);
  const yaml = [];
  const notes = [];
  if (lines[i + 1] !== `${pad}---`) return { yaml, notes };
  let j = i + 2;
  for (; j < lines.length && lines[j] !== `${pad}...`; j++) yaml.push(lines[j].startsWith(pad) ? lines[j].slice(pad.length) : lines[j].trimStart());
  const own = `${' '.repeat(indent)}# `;
  for (j++; j < lines.length && lines[j].startsWith(own) && !SUBTEST.test(lines[j]); j++) notes.push(lines[j].slice(own.length));
  return { yaml, notes };
}
const totals = {};
/** runs whose TAP has no totals or whose runner exited non-zero */
const broken = [];
const label = (file) => (runs.length > 1 ? `[${basename(file, '.tap')}] ` : '');
for (const { file, status = '0' } of runs) {
  let lines;
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    lines = [];
  }
  const parents = [];
  const mine = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const sub = SUBTEST.exec(line);
    if (sub) {
      parents[sub[1].length / 4] = sub[2].replace(/\\#/g, '#');
      continue;
    }
    const m = RESULT.exec(line);
    if (m) {
      const level = m[1].length / 4;
      const name = m[3].replace(/\\#/g, '#');
      parents.length = level;
      if (m[2] === 'not ok' && !m[4]) {
        const { yaml, notes } = diagnostic(lines, i, m[1].length);
        const path = label(file) + [...parents, name].join(' › ');
        const loc = yaml.map((l) => /^location: '(.*?)'$/.exec(l)).find(Boolean);
        // a suite (or file) that failed only because a subtest failed: the subtest is listed
        const onlySubtests = yaml.includes("failureType: 'subtestsFailed'") && failures.some((f) => f.path.startsWith(`${path} › `));
        // a file that crashed: node reports its stderr as "# " lines just before its "# Subtest:"
        const output = [];
        if (yaml.includes("failureType: 'testCodeFailure'") && level === 0 && yaml.some((l) => /^exitCode: /.test(l))) {
          for (let j = i - 2; j >= 0 && /^# (?!Subtest: )/.test(lines[j]) && output.length < DIAG_LINES; j--) output.unshift(`output: ${lines[j].slice(2)}`);
        }
        if (!onlySubtests) failures.push({ path, where: loc ? relative(process.cwd(), loc[1]) : '', yaml: [...output, ...yaml.filter((l) => !NOISE.test(l))], notes });
        continue;
      }
      if (!m[4]) continue;
      // the test's file, from the YAML block after the result line (node 20 gives none for skips)
      let where = '';
      for (let j = i + 1; j < lines.length && j < i + 12; j++) {
        const loc = /^\s+location: '(.*?):\d+:\d+'$/.exec(lines[j]);
        if (loc) {
          where = relative(process.cwd(), loc[1]);
          break;
        }
        if (RESULT.test(lines[j]) || SUBTEST.test(lines[j])) break;
      }
      const reason = `${m[4] === 'TODO' ? 'todo ' : ''}${(m[5] ?? '').trim()}`.trim();
      const entry = { path: label(file) + [...parents.slice(0, level), name].join(' › '), name, where, reason };
      (m[4] === 'SKIP' ? skipped : todo).push(entry);
      continue;
    }
    // the run's totals: the last unindented "# key N" lines
    const t = /^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
    if (t) mine[t[1]] = Number(t[2]);
  }
  if (mine.tests === undefined) {
    broken.push(`${file}: no totals in the TAP output (did the runner crash, or not run?)`);
    mine.fail = 1;
  } else if (status !== '0') {
    broken.push(`${file}: its runner exited with status ${status}`);
    // a runner that failed without a failing test (it crashed after its last result): one failure
    if ((mine.fail ?? 0) + (mine.cancelled ?? 0) === 0) mine.fail = (mine.fail ?? 0) + 1;
  }
  for (const [k, v] of Object.entries(mine)) totals[k] = (totals[k] ?? 0) + v;
  if (runs.length > 1) console.log(`${label(file)}${mine.pass ?? 0} passed, ${(mine.fail ?? 0) + (mine.cancelled ?? 0)} failed, ${(mine.skipped ?? 0) + (mine.todo ?? 0)} skipped`);
}

const optIn = (s) => OPT_IN.find((o) => o.name.test(s.name) && /^opt-in:/.test(s.reason));
const allowed = skipped.filter(optIn);
const refused = [...skipped.filter((s) => !optIn(s)), ...todo];
const failed = (totals.fail ?? 0) + (totals.cancelled ?? 0);
const show = (s) => `  ${s.where ? `${s.where}: ` : ''}${s.path}${s.reason ? ` — ${s.reason}` : ''}`;
const clip = (l) => (l.length > DIAG_WIDTH ? `${l.slice(0, DIAG_WIDTH)}…` : l);

console.log('');
if (allowed.length) {
  console.log(`Opt-in suites not run (${allowed.length}):`);
  for (const s of allowed) console.log(`${show(s)} [${optIn(s).how}]`);
}
if (refused.length) {
  console.log(`Skipped without being opt-in — a failure (${refused.length}); a missing component must fail the test (test/helpers/require.ts):`);
  for (const s of refused) console.log(show(s));
}
// subtests cancelled because their suite's hook failed: one line under the suite, not one entry each
const byPath = new Map(failures.map((f) => [f.path, f]));
for (const f of failures) {
  const parent = f.yaml.includes("failureType: 'cancelledByParent'") ? byPath.get(f.path.slice(0, f.path.lastIndexOf(' › '))) : undefined;
  if (parent === undefined || parent === f) continue;
  parent.cancelled = (parent.cancelled ?? 0) + 1;
  f.hidden = true;
}
const shown = failures.filter((f) => !f.hidden);
if (shown.length) {
  console.log(`Failing tests (${shown.length}):`);
  for (const f of shown.slice(0, MAX_FAILURES)) {
    console.log(`  ✖ ${f.where ? `${f.where}: ` : ''}${f.path}`);
    if (f.cancelled) console.log(`      (${f.cancelled} of its tests cancelled with it)`);
    for (const l of f.yaml.slice(0, DIAG_LINES)) console.log(`      ${clip(l)}`);
    if (f.yaml.length > DIAG_LINES) console.log(`      … ${f.yaml.length - DIAG_LINES} more lines`);
    for (const l of f.notes.slice(0, NOTE_LINES)) console.log(`      # ${clip(l)}`);
    if (f.notes.length > NOTE_LINES) console.log(`      # … ${f.notes.length - NOTE_LINES} more diagnostics`);
  }
  if (shown.length > MAX_FAILURES) console.log(`  … and ${shown.length - MAX_FAILURES} more failing tests (see the spec output above)`);
}
for (const b of broken) console.log(`Broken run: ${b}`);
if (failed) console.log(`Failed: ${totals.fail ?? 0}, cancelled (counted as failed): ${totals.cancelled ?? 0}.`);
console.log(`${totals.pass ?? 0} passed, ${failed} failed, ${skipped.length + todo.length} skipped`);
process.exit(failed || refused.length || broken.length ? 1 : 0);
