/**
 * Exact replies of a real Kamailio 5.6.3, as recorded in test/fixtures/kamailio/recorded
 * (scripts/record-kamailio.sh rewrites them). Tests replay these bytes from local
 * servers; only the JSON-RPC id is substituted so the reply answers the request at hand.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const OUTPUTS = join(here, '..', '..', 'fixtures', 'kamailio', 'recorded');

const SEP = '==================================================================\n';

export interface RecordedHttp {
  label: string;
  request: string;
  status: number;
  reason: string;
  /** Header lines in recorded order (CR was stripped by the recorder; we send CRLF). */
  headers: Array<[string, string]>;
  /** Exactly Content-Length bytes. */
  body: Buffer;
}

function sections(file: string): Array<{ label: string; text: string }> {
  const raw = readFileSync(join(OUTPUTS, file), 'utf8');
  return raw.split(SEP).filter((s) => s.startsWith('### ')).map((s) => {
    const nl = s.indexOf('\n');
    const label = s.slice(4, nl).replace(/^\[\d+\]\s*/, '');
    return { label, text: s.slice(nl + 1) };
  });
}

let httpCache: RecordedHttp[] | undefined;

export function recordedHttp(label: string): RecordedHttp {
  httpCache ??= sections('jsonrpc_http.txt').flatMap(({ label, text }) => {
    const reqMark = text.indexOf('\n', text.indexOf('--- request:')) + 1;
    const respMark = text.indexOf('--- response (curl -i; exact bytes, CR removed from header lines):\n');
    const request = text.slice(reqMark, respMark).replace(/\n$/, '');
    const resp = text.slice(respMark).split('\n').slice(1).join('\n');
    if (!resp.startsWith('HTTP/1.1 ')) return []; // no reply recorded (curl timed out)
    const headEnd = resp.indexOf('\n\n');
    const headLines = resp.slice(0, headEnd).split('\n');
    const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(headLines[0]!)!;
    const headers = headLines.slice(1).map((l): [string, string] => {
      const i = l.indexOf(':');
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const len = Number(headers.find(([k]) => k.toLowerCase() === 'content-length')![1]);
    const body = Buffer.from(resp.slice(headEnd + 2), 'utf8').subarray(0, len);
    if (body.length !== len) throw new Error(`recording ${label}: body shorter than Content-Length`);
    return [{ label, request, status: Number(m[1]), reason: m[2]!, headers, body }];
  });
  const hit = httpCache.find((r) => r.label === label);
  if (!hit) throw new Error(`no recorded HTTP reply labelled "${label}"`);
  return hit;
}

/** Reply bytes read from the reply FIFO, exactly (Kamailio writes no trailing newline). */
export function recordedFifo(label: string): Buffer {
  for (const { label: l, text } of sections('jsonrpc_fifo.txt')) {
    if (l !== label) continue;
    const start = text.indexOf('\n', text.indexOf('--- read from ')) + 1;
    const end = text.indexOf('--- reader exit:');
    return Buffer.from(text.slice(start, end), 'utf8');
  }
  throw new Error(`no recorded FIFO reply labelled "${label}"`);
}

/** Reply datagram (the recorder appended one "\n"). */
export function recordedDgram(label: string): Buffer {
  for (const { label: l, text } of sections('jsonrpc_dgram.txt')) {
    if (l !== label) continue;
    const start = text.indexOf('--- reply:\n') + '--- reply:\n'.length;
    return Buffer.from(text.slice(start).replace(/\n$/, ''), 'utf8');
  }
  throw new Error(`no recorded datagram reply labelled "${label}"`);
}

/** The recorded reply with its top-level id replaced by `id` (Kamailio prints `"id":\t<n>`). */
export function withId(body: Buffer, id: unknown): Buffer {
  const text = body.toString('utf8');
  const m = /"id":(\s*)(-?\d+|"[^"]*"|null)(\s*)}(\s*)$/.exec(text);
  if (!m) throw new Error('recorded reply has no trailing id');
  return Buffer.from(text.slice(0, m.index) + `"id":${m[1]}${JSON.stringify(id)}${m[3]}}${m[4]}`, 'utf8');
}

/** A full HTTP/1.1 response as Kamailio sends it: recorded status line and headers, CRLF, body. */
export function httpResponseBytes(rec: Pick<RecordedHttp, 'status' | 'reason' | 'headers'>, body: Buffer): Buffer {
  const head = [`HTTP/1.1 ${rec.status} ${rec.reason}`,
    ...rec.headers.map(([k, v]) => (k.toLowerCase() === 'content-length' ? `${k}: ${body.length}` : `${k}: ${v}`))]
    .join('\r\n') + '\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export function parseRecorded<T = unknown>(body: Buffer): T {
  return (JSON.parse(body.toString('utf8')) as { result: T }).result;
}

/**
 * A Kamailio-style ul.dump reply with `n` AoRs of one contact each, pretty-printed with tabs
 * exactly like jsonrpcs (pretty_format=1), built from the recorded contact. ~920 bytes per AoR.
 */
export function bigUlDump(n: number, id: number): Buffer {
  const rec = recordedHttp('ul.dump').body.toString('utf8');
  const first = rec.indexOf('{\n\t\t\t\t\t\t\t"Info"');
  const second = rec.indexOf(', {\n\t\t\t\t\t\t\t"Info"');
  const aorBlock = rec.slice(first, second); // "{ Info: … }" of AoR 1002
  const head = rec.slice(0, first);
  const tail = rec.slice(rec.indexOf('],\n\t\t\t\t\t"Stats"'));
  const parts: string[] = [head];
  for (let i = 0; i < n; i++) {
    if (i > 0) parts.push(', ');
    parts.push(aorBlock.replace('"AoR":\t"1002"', `"AoR":\t"u${i}"`).replace('sip:1002@', `sip:u${i}@`));
  }
  parts.push(tail.replace('"Records":\t3', `"Records":\t${n}`));
  return withId(Buffer.from(parts.join(''), 'utf8'), id);
}
