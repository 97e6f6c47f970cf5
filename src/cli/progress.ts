/** A one-line progress bar on stderr (terminals only), redrawn at most every 100 ms. */
export interface ProgressBar {
  update(p: { done: number; total: number; note?: string }): void;
  done(): void;
}

export function progressBar(): ProgressBar {
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
      const width = 30;
      const full = Math.round(frac * width);
      process.stderr.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${p.note ?? `${p.done}/${p.total} rows`}`);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
