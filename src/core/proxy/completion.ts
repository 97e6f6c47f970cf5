import { LINE_COMMANDS } from './line-commands.js';

export interface CompletionSources {
  /** RPC method names (system.listMethods), fetched once. */
  methods(): Promise<string[]>;
  /** htable names (htable.listTables), fetched once. */
  tables(): Promise<string[]>;
}

const SHELL_WORDS = ['help', 'exit', 'quit'];
const TABLE_SUBCOMMANDS = new Set(['dump', 'get', 'seti', 'sets', 'delete', 'flush', 'reload']);

/**
 * Tab completion for the shell, in readline's shape: [candidates, the word being completed].
 * First word: commands, then RPC method names; after `rpc`: method names; after `htable
 * dump|get|…`: table names. A source that fails (proxy down) just offers nothing.
 */
export async function completeLine(line: string, src: CompletionSources): Promise<[string[], string]> {
  const words = line.split(/\s+/);
  const current = words.pop() ?? '';
  const before = words.filter(Boolean);
  const safe = async (f: () => Promise<string[]>): Promise<string[]> => {
    try {
      return await f();
    } catch {
      return [];
    }
  };
  let pool: string[] = [];
  if (before.length === 0) {
    pool = [...Object.keys(LINE_COMMANDS), ...SHELL_WORDS];
    if (current.includes('.') || current === '') pool = pool.concat(current.includes('.') ? await safe(src.methods) : []);
  } else if (before.length === 1 && before[0] === 'rpc') {
    pool = await safe(src.methods);
  } else if (before.length === 1 && LINE_COMMANDS[before[0]!]?.length) {
    pool = LINE_COMMANDS[before[0]!]!;
  } else if (before.length === 2 && before[0] === 'htable' && TABLE_SUBCOMMANDS.has(before[1]!)) {
    pool = await safe(src.tables);
  }
  const hits = [...new Set(pool)].filter((w) => w.startsWith(current)).sort();
  return [hits, current];
}
