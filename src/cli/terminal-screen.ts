/**
 * A full-screen view on the terminal with plain ANSI: the alternate screen and a hidden cursor
 * while it runs, keys read one at a time (raw mode), and the terminal put back as it was on
 * every way out — quit key, Ctrl-C, SIGTERM/SIGHUP, an error, or the process exiting.
 */
const ENTER = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
const LEAVE = '\x1b[?25h\x1b[?1049l';

export class TerminalScreen {
  private active = false;
  private wasRaw = false;
  private readonly out: NodeJS.WriteStream;
  private readonly inp: NodeJS.ReadStream;
  private readonly onKeyData: (d: Buffer) => void;
  private readonly onSignal: (sig: NodeJS.Signals) => void;
  private readonly onExit: () => void;
  private readonly onResize: () => void;

  constructor(opts: { onKey: (key: string) => void; onSignal: (sig: NodeJS.Signals) => void; onResize: () => void; out?: NodeJS.WriteStream; inp?: NodeJS.ReadStream }) {
    this.out = opts.out ?? process.stdout;
    this.inp = opts.inp ?? process.stdin;
    this.onKeyData = (d) => {
      for (const ch of d.toString('utf8')) opts.onKey(ch);
    };
    this.onSignal = (sig) => {
      this.restore();
      opts.onSignal(sig);
    };
    this.onExit = () => this.restore();
    this.onResize = () => opts.onResize();
  }

  get width(): number {
    return this.out.columns || 80;
  }

  get height(): number {
    return this.out.rows || 24;
  }

  enter(): void {
    if (this.active) return;
    this.active = true;
    this.out.write(ENTER);
    if (this.inp.isTTY) {
      this.wasRaw = this.inp.isRaw;
      this.inp.setRawMode(true);
    }
    this.inp.on('data', this.onKeyData);
    this.inp.resume();
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, this.onSignal);
    process.on('exit', this.onExit);
    this.out.on('resize', this.onResize);
  }

  /** Replace the screen's content with `lines` (no scrolling: cursor home, each line cleared to its end). */
  draw(lines: string[]): void {
    if (!this.active) return;
    this.out.write('\x1b[H' + lines.map((l) => l + '\x1b[K').join('\r\n') + '\x1b[J');
  }

  /** Put the terminal back; safe to call more than once. */
  restore(): void {
    if (!this.active) return;
    this.active = false;
    this.inp.off('data', this.onKeyData);
    if (this.inp.isTTY) this.inp.setRawMode(this.wasRaw);
    this.inp.pause();
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, this.onSignal);
    process.off('exit', this.onExit);
    this.out.off('resize', this.onResize);
    this.out.write(LEAVE);
  }
}
