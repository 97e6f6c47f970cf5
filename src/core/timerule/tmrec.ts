/**
 * Time recurrences in the format of Kamailio's tmrec module (tmrec_match), a subset of RFC 2445:
 *
 *   startdate|duration|frequency|until|interval|byday|bymonthday|byyearday|byweekno|bymonth
 *
 * e.g. "20240101T083000|PT10H|weekly|||MO,TU,WE,TH,FR" (weekdays 08:30–18:30),
 *      "20240101T000000|PT24H|weekly|||SA,SU" (weekends).
 * Supported: startdate (YYYYMMDDTHHMMSS, wall-clock time in the rule's time zone), duration
 * (RFC 2445: PnW, PnDTnHnMnS; empty or zero = for ever), frequency (daily, weekly, monthly,
 * yearly; empty = one period), until (date or date-time, inclusive), interval, byday (MO…SU,
 * with +n/-n for monthly/yearly: 1MO first Monday, -1FR last Friday), bymonthday (1…31, -1 =
 * last day), bymonth (1…12). byyearday and byweekno are refused rather than ignored.
 *
 * Times are compared as wall-clock time in the rule's IANA time zone (Intl, no dependency): a
 * window "08:30 for 10 hours" is 08:30–18:30 local time every day, also across DST changes.
 */
import { ValidationError } from '../errors.js';

export interface TmRec {
  text: string;
  start: number; // wall-clock seconds (as if UTC) of startdate
  duration: number; // seconds; 0 = for ever
  freq?: 'daily' | 'weekly' | 'monthly' | 'yearly';
  until?: number; // wall-clock seconds
  interval: number;
  byday?: Array<{ day: number; nth: number }>; // day 0 = Sunday; nth 0 = every
  bymonthday?: number[];
  bymonth?: number[];
}

const DAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
const DAY_S = 86_400;

function bad(why: string): never {
  throw new ValidationError('timerec', why, 'e.g. "20240101T083000|PT10H|weekly|||MO,TU,WE,TH,FR" (Kamailio tmrec format)');
}

function parseDate(s: string, what: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/.exec(s);
  if (!m) bad(`${what} "${s.slice(0, 20)}" is not YYYYMMDD or YYYYMMDDTHHMMSS`);
  const [y, mo, d, h = '0', mi = '0', se = '0'] = m.slice(1);
  const t = Date.UTC(+y, +mo - 1, +d, +h, +mi, +se);
  const back = new Date(t);
  if (back.getUTCMonth() !== +mo - 1 || back.getUTCDate() !== +d || +h > 23 || +mi > 59 || +se > 59) bad(`${what} "${s}" is not a valid date`);
  return t / 1000;
}

function parseDuration(s: string): number {
  if (s === '') return 0;
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(s);
  if (!m || s.toUpperCase() === 'P' || s.toUpperCase().endsWith('T')) bad(`duration "${s.slice(0, 20)}" is not an RFC 2445 duration such as PT8H or P1D`);
  const [w = '0', d = '0', h = '0', mi = '0', se = '0'] = m.slice(1).map((x) => x ?? '0');
  return (((+w * 7 + +d) * 24 + +h) * 60 + +mi) * 60 + +se;
}

function list(s: string, what: string, lo: number, hi: number): number[] {
  return s.split(',').map((x) => {
    if (!/^[+-]?\d{1,3}$/.test(x.trim())) bad(`${what} "${x.slice(0, 10)}" is not a number`);
    const n = Number(x.trim());
    if (n === 0 || Math.abs(n) < lo || Math.abs(n) > hi) bad(`${what} ${n} is out of range`);
    return n;
  });
}

export function parseTmrec(text: string, separator = '|'): TmRec {
  if (text.length === 0 || text.length > 255) bad('empty or longer than 255 characters');
  const f = text.split(separator).map((x) => x.trim());
  if (f.length > 10) bad('more than 10 fields');
  const [start = '', dur = '', freq = '', until = '', interval = '', byday = '', bymonthday = '', byyearday = '', byweekno = '', bymonth = ''] = f;
  if (start === '') bad('startdate is required');
  const r: TmRec = { text, start: parseDate(start, 'startdate'), duration: parseDuration(dur), interval: 1 };
  if (freq !== '') {
    const fl = freq.toLowerCase();
    if (!['daily', 'weekly', 'monthly', 'yearly'].includes(fl)) bad(`frequency "${freq.slice(0, 12)}": daily, weekly, monthly or yearly`);
    r.freq = fl as TmRec['freq'];
    if (r.duration === 0) bad('a recurring rule needs a duration (e.g. PT8H)');
  }
  if (until !== '') r.until = parseDate(until, 'until') + (until.length === 8 ? DAY_S - 1 : 0);
  if (interval !== '') {
    if (!/^\d{1,4}$/.test(interval) || +interval < 1) bad(`interval "${interval.slice(0, 8)}" is not a positive integer`);
    r.interval = +interval;
  }
  if (byday !== '') {
    r.byday = byday.split(',').map((x) => {
      const m = /^([+-]?\d{1,2})?([A-Za-z]{2})$/.exec(x.trim());
      const day = m ? DAYS.indexOf(m[2].toUpperCase()) : -1;
      if (!m || day < 0) bad(`byday "${x.slice(0, 8)}": MO, TU, WE, TH, FR, SA, SU, optionally with +n/-n`);
      const nth = m[1] === undefined ? 0 : Number(m[1]);
      if (Math.abs(nth) > 5) bad(`byday "${x}": n must be within ±5`);
      return { day, nth };
    });
  }
  if (bymonthday !== '') r.bymonthday = list(bymonthday, 'bymonthday', 1, 31);
  if (byyearday !== '' || byweekno !== '') bad('byyearday and byweekno are not supported by sipd');
  if (bymonth !== '') r.bymonth = list(bymonth, 'bymonth', 1, 12);
  if (r.duration > 0 && r.freq !== undefined && r.duration > 7 * DAY_S) bad('a recurring duration is at most 7 days (P7D)');
  return r;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Is `tz` an IANA time zone Intl knows? */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of instant `ms` in `tz`, as seconds (as if that wall clock were UTC). */
export function wallClock(ms: number, tz: string): number {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) / 1000;
}

/** Does the recurrence have an occurrence that starts on the (wall-clock) day beginning at `day`? */
function occursOn(r: TmRec, day: number): boolean {
  const startDay = Math.floor(r.start / DAY_S) * DAY_S;
  if (day < startDay) return false;
  const d = new Date(day * 1000);
  const s = new Date(startDay * 1000);
  const wd = d.getUTCDay();
  const dom = d.getUTCDate();
  const month = d.getUTCMonth() + 1;
  const daysInMonth = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  const monthsSince = (d.getUTCFullYear() - s.getUTCFullYear()) * 12 + d.getUTCMonth() - s.getUTCMonth();
  if (r.bymonth !== undefined && !r.bymonth.includes(month)) return false;
  if (r.bymonthday !== undefined && !r.bymonthday.some((n) => (n > 0 ? n === dom : daysInMonth + n + 1 === dom))) return false;
  const dayOk = (nthScope: boolean) =>
    r.byday!.some((b) => {
      if (b.day !== wd) return false;
      if (b.nth === 0 || !nthScope) return true;
      return b.nth > 0 ? Math.ceil(dom / 7) === b.nth : Math.ceil((daysInMonth - dom + 1) / 7) === -b.nth;
    });
  switch (r.freq) {
    case 'daily':
      if (((day - startDay) / DAY_S) % r.interval !== 0) return false;
      return r.byday === undefined || dayOk(false);
    case 'weekly': {
      // weeks counted from the Monday of startdate's week
      const monday = (t: number) => t - ((new Date(t * 1000).getUTCDay() + 6) % 7) * DAY_S;
      if (Math.round((monday(day) - monday(startDay)) / (7 * DAY_S)) % r.interval !== 0) return false;
      return r.byday === undefined ? wd === s.getUTCDay() : dayOk(false);
    }
    case 'monthly':
      if (monthsSince % r.interval !== 0) return false;
      if (r.byday !== undefined) return dayOk(true);
      return r.bymonthday !== undefined || dom === s.getUTCDate();
    case 'yearly':
      if ((d.getUTCFullYear() - s.getUTCFullYear()) % r.interval !== 0) return false;
      if (r.bymonth === undefined && month !== s.getUTCMonth() + 1) return false;
      if (r.byday !== undefined) return dayOk(true);
      return r.bymonthday !== undefined || dom === s.getUTCDate();
    default:
      return day === startDay;
  }
}

/** Does instant `ms` fall inside the recurrence, read in time zone `tz`? */
export function tmrecMatches(r: TmRec, ms: number, tz = 'UTC'): boolean {
  const t = wallClock(ms, tz);
  if (t < r.start) return false;
  if (r.freq === undefined) return r.duration === 0 || t < r.start + r.duration;
  const tod = r.start - Math.floor(r.start / DAY_S) * DAY_S;
  const today = Math.floor(t / DAY_S) * DAY_S;
  // an occurrence that began on an earlier day may still be running (e.g. 20:00 for 10 hours)
  const back = Math.ceil((tod + r.duration) / DAY_S);
  for (let i = 0; i <= back; i++) {
    const day = today - i * DAY_S;
    const begin = day + tod;
    if (begin > t || t >= begin + r.duration) continue;
    if (r.until !== undefined && begin > r.until) continue;
    if (occursOn(r, day)) return true;
  }
  return false;
}
