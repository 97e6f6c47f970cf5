// Kamailio tmrec recurrences (src/core/timerule/tmrec.ts) and the time-rule decision
// (src/core/timerule/timerules.ts) with an injected clock: no sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTmrec, tmrecMatches } from '../../../src/core/timerule/tmrec.js';
import { checkTimeRules, compileRule } from '../../../src/core/timerule/timerules.js';
import { classMatches, normaliseClass } from '../../../src/core/block/destination-class.js';

const at = (iso: string) => Date.parse(iso);

test('weekdays 08:30–18:30 (the tmrec README example), in UTC', () => {
  const r = parseTmrec('20120101T083000|PT10H|weekly|||MO,TU,WE,TH,FR');
  assert.equal(tmrecMatches(r, at('2026-12-07T08:30:00Z')), true, 'Monday 08:30');
  assert.equal(tmrecMatches(r, at('2026-12-07T18:29:59Z')), true, 'Monday 18:29:59');
  assert.equal(tmrecMatches(r, at('2026-12-07T18:30:00Z')), false, 'Monday 18:30: the end is excluded');
  assert.equal(tmrecMatches(r, at('2026-12-07T08:29:59Z')), false);
  assert.equal(tmrecMatches(r, at('2026-12-06T12:00:00Z')), false, 'Sunday');
  assert.equal(tmrecMatches(r, at('2011-12-30T12:00:00Z')), false, 'before startdate');
});

test('weekends all day; time zone and DST: the window is wall-clock time in the zone', () => {
  const we = parseTmrec('20120101T000000|PT24H|weekly|||SA,SU');
  assert.equal(tmrecMatches(we, at('2026-12-05T23:59:59Z')), true, 'Saturday');
  assert.equal(tmrecMatches(we, at('2026-12-07T00:00:00Z')), false, 'Monday');
  // Sunday 23:30 UTC is Monday 00:30 in Berlin (winter, UTC+1)
  assert.equal(tmrecMatches(we, at('2026-12-06T23:30:00Z'), 'Europe/Berlin'), false);
  assert.equal(tmrecMatches(we, at('2026-12-06T23:30:00Z'), 'UTC'), true);
  const office = parseTmrec('20240101T080000|PT10H|daily');
  assert.equal(tmrecMatches(office, at('2026-01-15T07:30:00Z'), 'Europe/Berlin'), true, '08:30 in Berlin in winter');
  assert.equal(tmrecMatches(office, at('2026-07-15T06:30:00Z'), 'Europe/Berlin'), true, '08:30 in Berlin in summer (UTC+2)');
  assert.equal(tmrecMatches(office, at('2026-07-15T05:30:00Z'), 'Europe/Berlin'), false, '07:30 in Berlin in summer');
});

test('a window across midnight, interval, until, monthly by nth weekday and bymonthday, one-off', () => {
  const night = parseTmrec('20240101T200000|PT10H|daily');
  assert.equal(tmrecMatches(night, at('2026-03-03T05:59:00Z')), true, 'the window that began the evening before');
  assert.equal(tmrecMatches(night, at('2026-03-03T06:00:00Z')), false);
  const everyOther = parseTmrec('20240101T000000|PT24H|daily||2');
  assert.equal(tmrecMatches(everyOther, at('2024-01-03T12:00:00Z')), true);
  assert.equal(tmrecMatches(everyOther, at('2024-01-04T12:00:00Z')), false);
  const until = parseTmrec('20240101T000000|PT24H|daily|20240110');
  assert.equal(tmrecMatches(until, at('2024-01-10T12:00:00Z')), true, 'until is inclusive');
  assert.equal(tmrecMatches(until, at('2024-01-11T12:00:00Z')), false);
  const lastFriday = parseTmrec('20240101T000000|PT24H|monthly|||-1FR');
  assert.equal(tmrecMatches(lastFriday, at('2026-12-25T12:00:00Z')), true, 'last Friday of December 2026');
  assert.equal(tmrecMatches(lastFriday, at('2026-12-18T12:00:00Z')), false);
  const firstMonday = parseTmrec('20240101T000000|PT24H|monthly|||1MO');
  assert.equal(tmrecMatches(firstMonday, at('2026-12-07T12:00:00Z')), true);
  assert.equal(tmrecMatches(firstMonday, at('2026-12-14T12:00:00Z')), false);
  const lastDay = parseTmrec('20240101T000000|PT24H|monthly||||-1');
  assert.equal(tmrecMatches(lastDay, at('2026-02-28T12:00:00Z')), true);
  const oneOff = parseTmrec('20261224T000000|P3D');
  assert.equal(tmrecMatches(oneOff, at('2026-12-26T23:00:00Z')), true);
  assert.equal(tmrecMatches(oneOff, at('2026-12-27T00:00:00Z')), false);
  assert.equal(tmrecMatches(parseTmrec('20000101T000000'), at('2026-12-27T00:00:00Z')), true, 'no duration: for ever');
});

test('bad recurrences are refused with a reason, not ignored', () => {
  for (const [text, why] of [
    ['', /empty/],
    ['2024-01-01|PT1H', /startdate/],
    ['20240101T000000|8h|daily', /duration/],
    ['20240101T000000|PT1H|hourly', /frequency/],
    ['20240101T000000||daily', /needs a duration/],
    ['20240101T000000|PT1H|weekly|||XX', /byday/],
    ['20240101T000000|PT1H|yearly||||||12', /byyearday and byweekno/],
    ['20240231T000000|PT1H', /not a valid date/],
  ] as const) assert.throws(() => parseTmrec(text), (e: Error) => why.test(e.message), text);
});

test('destination classes and the rule decision (groups, several windows)', () => {
  assert.equal(normaliseClass('International'), 'international');
  assert.equal(normaliseClass('+44 90'), '+4490');
  assert.throws(() => normaliseClass('premium'), /neither a class/);
  assert.equal(classMatches('international', '0049301234'), true);
  assert.equal(classMatches('international', '030123'), false);
  assert.equal(classMatches('national', '030123'), true);
  assert.equal(classMatches('+4490', '+44 90 1234'), true);
  const rules = [
    compileRule({ id: 1, class: 'international', grp: '', timerec: '20240101T080000|PT10H|weekly|||MO,TU,WE,TH,FR', tz: 'UTC', description: '' }),
    compileRule({ id: 2, class: 'international', grp: 'night', timerec: '20240101T180000|PT14H|daily', tz: 'UTC', description: '' }),
  ];
  const monNight = at('2026-12-07T22:00:00Z');
  assert.deepEqual(checkTimeRules(rules, new Set(), '+4930', monNight), { allowed: false, applicable: [1] });
  assert.deepEqual(checkTimeRules(rules, new Set(['night']), '+4930', monNight), { allowed: true, applicable: [1, 2], matched: 2 });
  assert.deepEqual(checkTimeRules(rules, new Set(), '030123', monNight), { allowed: true, applicable: [] }, 'national: no rule applies');
});
