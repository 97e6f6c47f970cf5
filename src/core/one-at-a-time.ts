/**
 * Async tasks run one after another, in the order they were given: a task starts once every task
 * given before it has settled. A task that fails does not stop the ones after it; each caller
 * gets its own task's outcome. What waits in turn: the datagram transport's calls
 * (rpc/serial-calls.ts), `sipctl batch`'s calls to a proxy that must not get two at once
 * (proxy/node-set.ts), the web console's changes, and in sipd usrloc's work on one AoR and its
 * write-back flushes.
 */
export class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();
  private unsettled = 0;
  private readonly settled = (): void => {
    this.unsettled--;
  };

  /** `task` once the tasks given before it have settled; its own outcome. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.unsettled++;
    const p = this.tail.then(task, task);
    // the tail never rejects, so the next task runs whatever this one did
    this.tail = p.then(this.settled, this.settled);
    return p;
  }

  /** Some task given has not settled yet. */
  get busy(): boolean {
    return this.unsettled > 0;
  }

  /** Settles (never rejects) once every task given so far has settled. */
  idle(): Promise<unknown> {
    return this.tail;
  }
}
