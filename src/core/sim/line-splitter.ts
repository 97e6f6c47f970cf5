/**
 * The lines of a SIM key file arriving in chunks (strings, or UTF-8 bytes cut anywhere, even
 * inside a character): '\n' ends a line and one '\r' before it is dropped, so '\r\n' and '\n'
 * files read the same; a lone '\r' stays in the line (batch-io's splitter, for command input,
 * also ends a line there). What follows the last '\n' waits for the next chunk; end() gives it.
 * Lines come one by one, without an array of them: a whole file may arrive as one chunk.
 */
export class LineSplitter {
  #partial = '';
  readonly #decoder = new TextDecoder('utf-8');

  /** The lines `chunk` completes; iterate them to the end before giving the next chunk. */
  *lines(chunk: string | Uint8Array): Generator<string> {
    const buf = this.#partial + (typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true }));
    this.#partial = '';
    let pos = 0;
    let nl: number;
    while ((nl = buf.indexOf('\n', pos)) !== -1) {
      yield withoutCr(buf.slice(pos, nl));
      pos = nl + 1;
    }
    this.#partial = buf.slice(pos);
  }

  /** The last line, when the text does not end with '\n'. */
  end(): string | undefined {
    const rest = this.#partial + this.#decoder.decode();
    this.#partial = '';
    return rest === '' ? undefined : withoutCr(rest);
  }
}

/** The lines of a whole text held as a string (LineSplitter's rules). */
export function* textLines(text: string): Generator<string> {
  const s = new LineSplitter();
  yield* s.lines(text);
  const last = s.end();
  if (last !== undefined) yield last;
}

function withoutCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
