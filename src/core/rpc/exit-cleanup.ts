/**
 * Paths a transport must not leave behind even when the process exits mid-call (the CLI calls
 * process.exit on an error elsewhere, or a signal handler exits): the FIFO transport's reply
 * FIFOs and the datagram transport's reply directories. The code that creates a path adds it and
 * deletes it once it removed the path itself; whatever is still listed at 'exit' is removed
 * there. One 'exit' hook per set, registered on first use.
 */
export class ExitCleanup {
  private readonly paths = new Set<string>();
  private hooked = false;

  /** `remove` runs synchronously at 'exit'; its errors are ignored (nothing can report them then). */
  constructor(private readonly remove: (path: string) => void) {}

  add(path: string): void {
    this.paths.add(path);
    if (this.hooked) return;
    this.hooked = true;
    process.once('exit', () => {
      for (const p of this.paths) {
        try {
          this.remove(p);
        } catch {
          // already gone (or never created): nothing to clean up, and 'exit' cannot report anyway
        }
      }
    });
  }

  delete(path: string): void {
    this.paths.delete(path);
  }
}
