/**
 * The monitor's loop, independent of any terminal: every interval, sample every node at once,
 * fold the samples into each node's state, hand the snapshot to `onSnapshot`. Pausing stops the
 * sampling (the screen keeps what it showed); `stop()` ends the loop at once, even mid-wait.
 */
import type { SipctlError } from '../errors.js';
import type { NodeSet } from '../proxy/node-set.js';
import { advance, newNodeState, type MonitorSnapshot, type NodeState } from './model.js';
import { sampleNode } from './sample.js';

export interface MonitorOptions {
  nodes: NodeSet;
  intervalMs: number;
  /** stop after this many snapshots (undefined: until stop()) */
  count?: number;
  onSnapshot: (snap: MonitorSnapshot) => void | Promise<void>;
  /** first time a node reports a method it lacks */
  onMissing?: (node: string, method: string) => void;
}

export class Monitor {
  private readonly o: MonitorOptions;
  private readonly states = new Map<string, NodeState>();
  private readonly warned = new Set<string>();
  private stopped = false;
  private paused = false;
  private wake?: () => void;
  /** the last snapshot taken */
  last?: MonitorSnapshot;
  /** some node answered at least once */
  answered = false;
  /** the last failure of a node, for a monitor that never reached any */
  lastError?: SipctlError;

  constructor(o: MonitorOptions) {
    this.o = o;
    for (const n of o.nodes.nodes) this.states.set(n.name, newNodeState());
  }

  get isPaused(): boolean {
    return this.paused;
  }

  togglePause(): void {
    this.paused = !this.paused;
    if (!this.paused) this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** One round: every node sampled at once. */
  async sampleOnce(): Promise<MonitorSnapshot> {
    const outcomes = await this.o.nodes.each((c) => sampleNode(c));
    const nodes = outcomes.map((o) => {
      const state = this.states.get(o.node)!;
      if (!o.ok) {
        this.lastError = o.error;
        return advance(o.node, state, undefined, o.error.message);
      }
      this.answered = true;
      for (const m of o.value.missing) {
        const key = `${o.node}\0${m}`;
        if (!this.warned.has(key)) {
          this.warned.add(key);
          this.o.onMissing?.(o.node, m);
        }
      }
      return advance(o.node, state, o.value);
    });
    this.last = { time: new Date().toISOString(), intervalSec: this.o.intervalMs / 1000, nodes };
    return this.last;
  }

  async run(): Promise<void> {
    let taken = 0;
    while (!this.stopped) {
      if (!this.paused) {
        const started = Date.now();
        const snap = await this.sampleOnce();
        if (this.stopped) break;
        await this.o.onSnapshot(snap);
        taken++;
        if (this.o.count !== undefined && taken >= this.o.count) break;
        await this.sleep(Math.max(0, this.o.intervalMs - (Date.now() - started)));
      } else {
        await this.sleep(3_600_000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
