import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord } from '../../cli/output.js';
import { createSelfSigned } from '../../core/tls/selfsigned.js';

export default class TlsSelfsigned extends BaseCommand<typeof TlsSelfsigned> {
  static summary = 'Create a self-signed certificate and key for testing sipd over TLS.';
  static description = [
    'Writes cert.pem and key.pem (mode 0600, unencrypted) into --out-dir and prints their paths and the certificate\'s SHA-256 fingerprint.',
    'Existing files are not replaced without --force. Needs the openssl command.',
    'Use the pair as sipd\'s tls.certFile / tls.keyFile; a pair made with --cn USER also works as a client certificate for tls.cnMustMatchFromUser, with its cert.pem as sipd\'s tls.caFile.',
    'For production use a certificate from your CA.',
  ].join('\n');
  static examples = [
    '<%= config.bin %> tls selfsigned --out-dir /etc/sipd/tls',
    '<%= config.bin %> tls selfsigned --cn sip.example.com --san 192.0.2.10 --days 30 --out-dir ./tls',
    '<%= config.bin %> tls selfsigned --cn alice --out-dir ./alice --json',
  ];
  static flags = {
    cn: Flags.string({ description: 'subject common name: a host name, an IP, or a SIP user for a client certificate', default: 'localhost' }),
    days: Flags.integer({ description: 'validity in days (1–3650)', default: 365, min: 1, max: 3650 }),
    'out-dir': Flags.string({ description: 'directory for cert.pem and key.pem (created if missing)', default: '.' }),
    san: Flags.string({ description: 'extra subjectAltName: a host name or IP address (repeatable)', multiple: true }),
    'key-type': Flags.string({ description: 'key algorithm: ec (P-256) or rsa (2048 bits)', options: ['ec', 'rsa'], default: 'ec' }),
    force: Flags.boolean({ description: 'replace an existing cert.pem / key.pem' }),
  };

  async run() {
    const r = await createSelfSigned({
      cn: this.flags.cn,
      days: this.flags.days,
      outDir: this.flags['out-dir'],
      san: this.flags.san ?? [],
      keyType: this.flags['key-type'] as 'ec' | 'rsa',
      force: this.flags.force,
    });
    this.print(await renderRecord([
      ['certificate', r.cert],
      ['key', `${r.key} (0600)`],
      ['subject', r.subject],
      ['subjectAltName', r.subjectAltName.join(', ')],
      ['SHA-256', r.fingerprint256],
      ['valid until', r.validTo],
    ], this.out));
    return r;
  }
}
