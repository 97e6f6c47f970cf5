/**
 * A prefix tree of dialled-number prefixes (Kamailio mtree): longest-prefix match in time linear
 * in the number's length. Built once per load and never changed: a reload builds a new tree and
 * swaps it in (habit 8).
 *
 * Numbers are compared in a normal form: visual separators (RFC 3966: "-", ".", "(", ")", space)
 * are dropped; every other character counts as written ("+44" and "0044" are different prefixes —
 * block both if both are dialled).
 */

/** Characters a prefix may hold: digits, "+", "*", "#" (Kamailio's char_list, with "+" added). */
export const PREFIX_CHARS = /^[0-9+*#]{1,32}$/;

export function normaliseNumber(s: string): string {
  return s.replace(/[-.() ]/g, '');
}

interface Node {
  children: Map<string, Node>;
  value?: string;
}

export interface PrefixMatch {
  prefix: string;
  value: string;
}

export class PrefixTree {
  private readonly root: Node = { children: new Map() };
  private count = 0;
  private nodes = 1;

  constructor(rows: Iterable<{ tprefix: string; tvalue: string }> = []) {
    for (const r of rows) this.add(r.tprefix, r.tvalue);
  }

  private add(prefix: string, value: string): void {
    let n = this.root;
    for (const ch of prefix) {
      let next = n.children.get(ch);
      if (next === undefined) {
        next = { children: new Map() };
        n.children.set(ch, next);
        this.nodes++;
      }
      n = next;
    }
    if (n.value === undefined) this.count++;
    n.value = value;
  }

  /** The longest prefix of `number` in the tree. */
  match(number: string): PrefixMatch | undefined {
    const s = normaliseNumber(number);
    let n: Node | undefined = this.root;
    let best: PrefixMatch | undefined;
    for (let i = 0; i < s.length && n !== undefined; i++) {
      n = n.children.get(s[i]);
      if (n?.value !== undefined) best = { prefix: s.slice(0, i + 1), value: n.value };
    }
    return best;
  }

  /** Every entry, in prefix order. */
  entries(): PrefixMatch[] {
    const out: PrefixMatch[] = [];
    const walk = (n: Node, path: string) => {
      if (n.value !== undefined) out.push({ prefix: path, value: n.value });
      for (const k of [...n.children.keys()].sort()) walk(n.children.get(k)!, path + k);
    };
    walk(this.root, '');
    return out;
  }

  get size(): number {
    return this.count;
  }

  get nodeCount(): number {
    return this.nodes;
  }
}
