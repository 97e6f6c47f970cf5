import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, textLines } from '../../../src/core/sim/line-splitter.js';

/** Every line of `chunks` through one LineSplitter. */
function split(chunks: Array<string | Uint8Array>): string[] {
  const s = new LineSplitter();
  const out: string[] = [];
  for (const c of chunks) for (const l of s.lines(c)) out.push(l);
  const last = s.end();
  if (last !== undefined) out.push(last);
  return out;
}

test('LineSplitter: \\n and \\r\\n end a line, a lone \\r does not; the last line needs no \\n', () => {
  const cases: Array<[string, string[]]> = [
    ['', []],
    ['\n', ['']],
    ['a', ['a']],
    ['a\n', ['a']],
    ['a\r\n', ['a']],
    ['a\r', ['a']],
    ['\r', ['']],
    ['a\nb', ['a', 'b']],
    ['a\r\nb\r\n', ['a', 'b']],
    ['a\n\nb\n', ['a', '', 'b']],
    ['a\rb\n', ['a\rb']],
    ['a\r\r\n', ['a\r']],
  ];
  for (const [text, lines] of cases) {
    assert.deepEqual(split([text]), lines, JSON.stringify(text));
    assert.deepEqual([...textLines(text)], lines, `textLines ${JSON.stringify(text)}`);
    // the same whatever the chunks: cut at every place, as strings and as bytes
    for (let i = 0; i <= text.length; i++) {
      assert.deepEqual(split([text.slice(0, i), text.slice(i)]), lines, `${JSON.stringify(text)} cut at ${i}`);
    }
  }
});

test('LineSplitter: UTF-8 bytes cut inside a character, and the \\r\\n pair cut between chunks', () => {
  const text = 'imsi,ki\r\n001010000000001,ü€𝄞\r\nlast';
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(split([bytes.subarray(0, i), bytes.subarray(i)]), ['imsi,ki', '001010000000001,ü€𝄞', 'last'], `cut at byte ${i}`);
  }
  // one byte at a time
  assert.deepEqual(split([...bytes].map((b) => Uint8Array.of(b))), ['imsi,ki', '001010000000001,ü€𝄞', 'last']);
});
