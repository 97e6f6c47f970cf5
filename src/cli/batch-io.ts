import { StringDecoder } from 'node:string_decoder';

/*
 * Standard input and output of `sipctl batch`, for thousands of lines: lines are taken from
 * whole chunks of input without a promise each, and result lines are written in chunks rather
 * than one write() each, yet a co-process that writes a line and waits for its result still gets
 * it (output is written whenever the batch has to wait for input, and shortly after any result).
 */

/** Line ends as node:readline splits them (crlfDelay: Infinity): \n, \r\n, or a lone \r. */
const LINE_END = /\r?\n|\r(?!\n)/g;

/** Lines buffered before reading pauses (back-pressure on a producer faster than the proxy). */
const HIGH_WATER_LINES = 4096;

/**
 * The lines of a readable stream, split exactly as node:readline splits them (crlfDelay:
 * Infinity): UTF-8 decoded across chunks, \n, \r\n (also across two chunks) or a lone \r end a
 * line, a last line without a line end counts when it is not empty.
 */
export class InputLines {
  private readonly decoder = new StringDecoder('utf8');
  private lines: string[] = [];
  private next = 0;
  private partial = '';
  private sawReturn = false;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer | string): void => this.push(chunk);
  private readonly onEnd = (): void => {
    if (this.partial.length > 0) this.lines.push(this.partial);
    this.partial = '';
    this.ended = true;
    this.notify();
  };
  private readonly onError = (e: Error): void => {
    this.failure = e;
    this.ended = true;
    this.notify();
  };

  constructor(private readonly input: NodeJS.ReadableStream) {
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('error', this.onError);
  }

  /** The next line if one is buffered, else undefined (then wait() for more). */
  take(): string | undefined {
    if (this.next >= this.lines.length) return undefined;
    const line = this.lines[this.next++]!;
    if (this.next === this.lines.length) {
      this.lines = [];
      this.next = 0;
      if (!this.ended) this.input.resume();
    }
    return line;
  }

  /** Waits until a line is buffered (true) or the input has ended (false); rejects on a read error. */
  async wait(): Promise<boolean> {
    while (this.next >= this.lines.length) {
      if (this.failure) throw this.failure;
      if (this.ended) return false;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return true;
  }

  /** Stop reading (the rest of the input is left unread). */
  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onError);
    this.input.pause();
  }

  private push(chunk: Buffer | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    // readline: a \r at the end of one chunk and a \n at the start of the next are one line end
    if (this.sawReturn) {
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.sawReturn = false;
    }
    LINE_END.lastIndex = 0;
    if (!LINE_END.test(text)) {
      this.partial += text;
      return;
    }
    text = this.partial + text;
    this.sawReturn = text.endsWith('\r');
    LINE_END.lastIndex = 0;
    let start = 0;
    for (let m = LINE_END.exec(text); m !== null; m = LINE_END.exec(text)) {
      this.lines.push(text.slice(start, m.index));
      start = LINE_END.lastIndex;
    }
    this.partial = text.slice(start);
    if (this.lines.length - this.next >= HIGH_WATER_LINES) this.input.pause();
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** Output kept before a write, at most. */
const OUTPUT_CHUNK = 64 * 1024;
/** Longest a result line waits in the buffer. */
const OUTPUT_DELAY_MS = 20;

/**
 * Result lines written in chunks: at 64 KB, OUTPUT_DELAY_MS after the first line of a chunk, and
 * whenever the caller flushes (before it waits for input or writes to stderr, so both streams stay
 * in order). Respects back-pressure: after a write the stream could not take at once, ready()
 * waits for 'drain'.
 */
export class BatchOutput {
  private buf = '';
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;

  constructor(private readonly out: NodeJS.WritableStream) {}

  /** Returns false when the stream wants the caller to wait (ready()) before adding more. */
  add(text: string): boolean {
    this.buf += text;
    if (this.buf.length >= OUTPUT_CHUNK) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), OUTPUT_DELAY_MS);
    return this.draining === undefined;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buf === '') return;
    const text = this.buf;
    this.buf = '';
    if (!this.out.write(text)) this.draining ??= new Promise<void>((resolve) => this.out.once('drain', () => {
      this.draining = undefined;
      resolve();
    }));
  }

  /** Resolves once the stream has taken what was written. */
  async ready(): Promise<void> {
    if (this.draining) await this.draining;
  }
}
