import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { parseTimeout, writeJson } from '../cli/rpc-support.js';
import { sanitize } from '../cli/output.js';
import { ConnectionError, SipctlError, UsageError } from '../core/errors.js';
import { OptionsPinger, parsePingUri, resolveTarget, summarize, type PingReply, type PingTransport } from '../core/sip/options-ping.js';

export default class Ping extends BaseCommand<typeof Ping> {
  static summary = 'Send SIP OPTIONS to a URI and time the reply, like ping(8) (kamctl ping, sipsak -s).';
  static description = `Over UDP (retransmitted every 500 ms, doubling, as RFC 3261 timer A), TCP or TLS — from the URI (sip:host;transport=tcp, sips:host) or --transport; one connection for the whole run. Each reply line shows the status line and the round-trip time; --count N sends N requests, --interval apart, and ends with ping(8)'s summary: sent, received, loss, rtt min/avg/max.

Any final reply counts as an answer, 404 or 503 included (the host's SIP stack answered). Exit codes: 0 when at least one reply came back; 7 (timeout) when none came within --timeout; 5 (connection) when the target refused (ICMP port unreachable, TCP connection refused) or cannot be resolved.`;
  static examples = [
    '<%= config.bin %> ping sip:127.0.0.1:5060',
    "<%= config.bin %> ping 'sip:127.0.0.1:5060;transport=tcp' --count 3 --interval 0.5",
    '<%= config.bin %> ping sips:proxy.example.com --ca-file ca.pem --json   # needs: a TLS proxy at proxy.example.com',
  ];
  static args = { uri: Args.string({ description: 'SIP URI or host[:port] to send OPTIONS to', required: true }) };
  static flags = {
    transport: Flags.string({ description: 'udp, tcp or tls (default: from the URI; udp)', options: ['udp', 'tcp', 'tls'] }),
    count: Flags.integer({ char: 'c', description: 'requests to send (default 1)', default: 1, min: 1, max: 100000 }),
    interval: Flags.string({ char: 'i', description: 'seconds between requests (default 1)', default: '1' }),
    timeout: Flags.string({ description: 'how long to wait for each reply: milliseconds or e.g. 2s (default 5s)', default: '5000' }),
    'ca-file': Flags.string({ description: 'PEM CA certificate(s) to trust for TLS' }),
    insecure: Flags.boolean({ description: 'TLS: do not verify the certificate (testing only)' }),
  };

  async run() {
    const timeoutMs = parseTimeout(this.flags.timeout)!;
    const intervalS = Number(this.flags.interval);
    if (!/^\d+(\.\d+)?$/.test(this.flags.interval) || !(intervalS >= 0.01 && intervalS <= 3600)) throw new UsageError('BAD_INTERVAL', `--interval: "${this.flags.interval}" is not a number of seconds from 0.01 to 3600`);
    const target = await resolveTarget(parsePingUri(this.args.uri, this.flags.transport as PingTransport | undefined));
    const proto = target.transport.toUpperCase();
    const where = `${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}`;
    this.print(`OPTIONS ${target.uri} (${where}) over ${proto}`);
    const pinger = new OptionsPinger(target, { timeoutMs, caFile: this.flags['ca-file'], insecure: this.flags.insecure });
    const replies: PingReply[] = [];
    const lost: number[] = [];
    let sent = 0;
    let stop = false;
    const onInt = () => (stop = true);
    process.once('SIGINT', onInt);
    try {
      await pinger.open();
      for (let seq = 1; seq <= this.flags.count && !stop; seq++) {
        const started = performance.now();
        sent++;
        const r = await pinger.ping(seq);
        if (r) {
          replies.push(r);
          this.print(`${r.status} ${sanitize(r.reason)} from ${where}: seq=${seq} time=${r.rttMs.toFixed(3)} ms${r.server ? ` (${sanitize(r.server)})` : ''}`);
        } else {
          lost.push(seq);
          this.print(`no reply for seq=${seq}${pinger.lastErrno ? ` (${pinger.lastErrno})` : ` within ${timeoutMs} ms`}`);
        }
        if (seq < this.flags.count && !stop) await new Promise((res) => setTimeout(res, Math.max(0, intervalS * 1000 - (performance.now() - started))));
      }
    } finally {
      process.off('SIGINT', onInt);
      pinger.close();
    }
    const summary = summarize(sent, replies.map((r) => r.rttMs));
    if (this.flags.count > 1 || sent > 1) {
      this.print(`--- ${target.uri} ping statistics ---`);
      this.print(`${summary.sent} sent, ${summary.received} received, ${summary.lossPercent}% loss${summary.received ? `; rtt min/avg/max = ${summary.minMs!.toFixed(3)}/${summary.avgMs!.toFixed(3)}/${summary.maxMs!.toFixed(3)} ms` : ''}`);
    }
    const result = { target, replies, lost, ...summary };
    if (summary.received === 0) {
      if (this.jsonEnabled()) writeJson(result);
      const refused = pinger.lastErrno === 'ECONNREFUSED';
      const why = refused ? 'port unreachable: nothing listens there' : pinger.lastErrno ?? `timed out after ${timeoutMs} ms`;
      const msg = `no reply from ${target.uri} (${where}, ${proto}): ${why}`;
      throw refused ? new ConnectionError('SIP_UNREACHABLE', msg) : new SipctlError('SIP_TIMEOUT', msg, { category: 'timeout', hint: 'is a SIP server listening there, and does the firewall let the reply back?' });
    }
    return result;
  }
}
