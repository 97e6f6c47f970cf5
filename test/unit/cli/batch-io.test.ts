// sipctl batch's input and output: lines split exactly as node:readline splits them (what batch
// used before), whatever the chunking; output in order, written when the batch waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { BatchOutput, InputLines } from '../../../src/cli/batch-io.js';

async function viaReadline(chunks: Buffer[]): Promise<string[]> {
  const input = new PassThrough();
  const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
  const lines: string[] = [];
  const done = (async () => {
    for await (const l of rl) lines.push(l);
  })();
  for (const c of chunks) input.write(c);
  input.end();
  await done;
  return lines;
}

async function viaInputLines(chunks: Buffer[]): Promise<string[]> {
  const input = new PassThrough();
  const src = new InputLines(input);
  const lines: string[] = [];
  const done = (async () => {
    for (;;) {
      const l = src.take();
      if (l !== undefined) lines.push(l);
      else if (!(await src.wait())) break;
    }
  })();
  for (const c of chunks) input.write(c);
  input.end();
  await done;
  src.close();
  return lines;
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const a of [...at.filter((x) => x > 0 && x < bytes.length)].sort((x, y) => x - y)) {
    out.push(bytes.subarray(prev, a));
    prev = a;
  }
  out.push(bytes.subarray(prev));
  return out;
}

test('lines: the same as node:readline for \\n, \\r\\n, lone \\r, UTF-8 and a last line without a line end, however chunked', async () => {
  const texts = [
    'htable sets t a 1\nhtable get t a\n',
    'one\r\ntwo\r\n\r\nthree',
    'a\rb\r\rc\n\nd\r',
    'ünï\r\ncödé ✓ 😀\nend\n',
    '\n\n\r\n',
    '',
    'no line end',
  ];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (const t of texts) {
    const bytes = Buffer.from(t, 'utf8');
    const cuts: number[][] = [[], Array.from({ length: bytes.length }, (_, i) => i)];
    for (let k = 0; k < 20; k++) cuts.push(Array.from({ length: 1 + rand(4) }, () => rand(bytes.length + 1)));
    for (const at of cuts) {
      const chunks = cut(bytes, at);
      assert.deepEqual(await viaInputLines(chunks), await viaReadline(chunks), `${JSON.stringify(t)} cut at ${at.join(',')}`);
    }
  }
});

test('lines: many lines in one chunk come out in order, reading pauses and resumes', async () => {
  const n = 20_000;
  const text = Array.from({ length: n }, (_, i) => `line ${i}`).join('\n') + '\n';
  const lines = await viaInputLines([Buffer.from(text)]);
  assert.equal(lines.length, n);
  assert.equal(lines[n - 1], `line ${n - 1}`);
});

test('output: in order, in few writes, written on flush and shortly after a line', async () => {
  const sink = new PassThrough();
  const writes: string[] = [];
  sink.on('data', (d: Buffer) => writes.push(d.toString()));
  const out = new BatchOutput(sink);
  for (let i = 1; i <= 1000; i++) out.add(`${i}\tok\n`);
  out.flush();
  await out.ready();
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.join(''), Array.from({ length: 1000 }, (_, i) => `${i + 1}\tok\n`).join(''));
  assert.ok(writes.length < 5, `${writes.length} writes`);
  out.add('late\n');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(writes.at(-1), 'late\n', 'a line is written without a flush soon after');
});
