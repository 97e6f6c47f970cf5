/**
 * Serialises reloads of an in-memory copy of a table. A reload asked for while another runs
 * does not join the running one (it may have read the table before the caller's change); it
 * waits and is served by one fresh load, shared with everyone who asked meanwhile. So a
 * resolved reload() always means "memory now reflects the table as it was when I asked", and
 * no caller is ever refused (Kamailio's permissions answers 500 "ongoing reload" instead).
 */
export class ReloadGate {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly load: () => Promise<void>) {}

  reload(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.load().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (this.queued === undefined) {
      this.queued = this.running
        .catch(() => undefined) // its failure went to its own callers; this one only waits for it to end
        .then(() => {
          this.queued = undefined;
          return this.reload();
        });
    }
    return this.queued;
  }

  /** Resolves when no load is running or queued (for destroy). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.queued !== undefined) await Promise.allSettled([this.running, this.queued]);
  }
}

/**
 * Reload every `seconds` (0: never) through `gate`, for modules with a reload_interval /
 * cache_refresh parameter. A failed reload keeps the previous copy and is only reported to
 * `onError`; the timer does not keep the process alive. Returns the timer for destroy().
 */
export function startPeriodicReload(gate: ReloadGate, seconds: number, onError: (e: unknown) => void): NodeJS.Timeout | undefined {
  if (seconds <= 0) return undefined;
  const timer = setInterval(() => {
    gate.reload().catch(onError);
  }, seconds * 1000);
  timer.unref();
  return timer;
}
