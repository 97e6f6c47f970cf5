import { Args, Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableDump extends RpcCommand<typeof HtableDump> {
  static summary = 'List the keys and values of one hash table (htable.dump).';
  static description = 'One row per key: KEY, VALUE, TYPE (int or str). Values are untrusted and shown with control characters escaped. --json gives [{name, value, type}]. Kamailio\'s datagram socket cannot carry more than about 1,000 keys in one reply: use http: or fifo: for big tables.';
  static examples = ['<%= config.bin %> htable dump ipban', "<%= config.bin %> htable dump userban --filter '10.0.0.1::*'"];
  static args = { table: Args.string({ description: 'table name, e.g. ipban', required: true }) };
  static flags = { ...rpcFlags, filter: Flags.string({ char: 'f', description: 'only keys matching: a glob with * and ?, else a substring' }) };

  async run() {
    return this.finish(await ops.htableDump(this.opContext(), this.args.table, this.flags.filter));
  }
}
