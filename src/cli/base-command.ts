import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { format, inspect } from 'node:util';
import { insecureWarnings, type ConfigValues, type ResolvedConfig } from '../core/config/config.js';
import type { Database } from '../core/db/database.js';
import { Session, type SessionOptions } from '../core/session.js';
import { schemaErrorFrom } from '../core/db/db-errors.js';
import { SipctlError, isSipctlError } from '../core/errors.js';
import { EXIT_CODES } from './exit-codes.js';
import { outputPolicy, type OutputPolicy } from './output.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;

/**
 * Every sipctl command: --json (one document on stdout, errors as JSON on stderr), colour policy,
 * configuration, one place mapping errors to exit codes. Commands return data from run().
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static enableJsonFlag = true;

  static baseFlags = {
    config: Flags.string({ description: 'config file (default: $XDG_CONFIG_HOME/sipctl/config.json, then /etc/sipctl/config.json)', env: 'SIPCTL_CONFIG', helpGroup: 'GLOBAL' }),
    kamctlrc: Flags.string({ description: 'read database and domain settings from an existing kamctlrc', env: 'SIPCTL_KAMCTLRC', helpGroup: 'GLOBAL' }),
    db: Flags.string({ description: 'database URL: mysql://user@host:port/db or sqlite:///path.db (password: SIPCTL_DB_PASSWORD or config file)', helpGroup: 'GLOBAL' }),
    'no-color': Flags.boolean({ description: 'no colour in output (also NO_COLOR=1)', helpGroup: 'GLOBAL' }),
    debug: Flags.boolean({ description: 'show stack traces and driver detail on errors', helpGroup: 'GLOBAL' }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: Interfaces.InferredArgs<T['args']>;
  protected out!: OutputPolicy;
  private sessionInstance?: Session;

  public override async init(): Promise<void> {
    await super.init();
    let parsed;
    try {
      parsed = await this.parse({
        flags: this.ctor.flags,
        baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: this.ctor.args,
        strict: this.ctor.strict,
      });
    } catch (e) {
      // Anything that goes wrong while parsing argv is the caller's input: a usage error (exit 2),
      // including oclif's plain Errors from flag value parsers ("Parsing --limit …").
      if (isSipctlError(e)) throw e;
      throw new SipctlError('USAGE', oneLine((e as Error).message ?? String(e)), { category: 'usage' });
    }
    const { flags, args } = parsed;
    this.flags = flags as BaseFlags<T>;
    this.args = args as Interfaces.InferredArgs<T['args']>;
    this.out = outputPolicy({ noColor: this.flags['no-color'] });
  }

  /** Flags that map onto configuration keys; commands add theirs via configOverrides(). */
  protected configOverrides(): Partial<ConfigValues> {
    return {};
  }

  /** What a Session needs beyond configuration values (RpcCommand: node names, the auth file). */
  protected sessionOptions(): Omit<SessionOptions, 'flags'> {
    return {};
  }

  /**
   * Configuration, databases and proxy connections of this run: the same core Session the
   * library's connect() uses (src/core/session.ts), closed in finally().
   */
  protected get session(): Session {
    if (!this.sessionInstance) {
      this.sessionInstance = new Session({
        flags: { config: this.flags.config, kamctlrc: this.flags.kamctlrc, db: this.flags.db, ...this.configOverrides() },
        ...this.sessionOptions(),
      });
    }
    return this.sessionInstance;
  }

  protected get cfg(): ResolvedConfig {
    return this.session.cfg;
  }

  protected async openDb(opts: { create?: boolean } = {}): Promise<Database> {
    return this.session.openDb(opts);
  }

  /**
   * oclif's log (its ux.stdout: console.log of util.format), written to stdout here so that printing
   * a result does not open stderr, which for a pipe loads node:net and the stream wrappers: oclif's
   * ux module does on load, console.log does for its colour check (issue 15). A one-argument
   * console.log prints the string as it is; stdout's EPIPE is ignored (oclif's Command module).
   */
  public override log(message = '', ...args: unknown[]): void {
    if (this.jsonEnabled()) return;
    const text = typeof message === 'string' ? message : inspect(message);
    process.stdout.write((text ? format(text, ...args) : format(...args)) + '\n');
  }

  /** Human output goes to stdout only when --json is off. */
  protected print(text: string): void {
    if (!this.jsonEnabled() && text !== '') this.log(text);
  }

  /** Chatter (progress, notes) goes to stderr so stdout stays data. */
  protected note(text: string): void {
    if (!this.jsonEnabled()) process.stderr.write(text + '\n');
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    try {
      await this.sessionInstance?.close();
    } catch (e) {
      // The command's work is done (or its own error is on its way), and a failed close does not
      // undo it; what the close left behind (a reply FIFO, a connection) is worth one line.
      process.stderr.write(`sipctl: warning: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    }
    // A secret others can read, in a config file this command did not need it from: say so, once.
    if (!err && this.sessionInstance?.configResolved) for (const w of insecureWarnings(this.sessionInstance.cfg)) this.note(`warning: ${w}`);
    return super.finally(err);
  }

  protected override toSuccessJson(result: unknown): unknown {
    return result;
  }

  /** One line on stderr (or one JSON document with --json), and the documented exit code. */
  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    const debug = this.flags?.debug || /(^|,)sipctl/.test(process.env.DEBUG ?? '') || process.argv.includes('--debug');
    let code: string;
    let category: keyof typeof EXIT_CODES;
    let hint: string | undefined;
    let details: Record<string, unknown> | undefined;
    // A table or column the database lacks is a schema error (9) whichever command meets it, not a bug.
    const schema = isSipctlError(err) ? undefined : schemaErrorFrom(err);
    if (schema) err = Object.assign(schema, { stack: err.stack, cause: err });
    if (isSipctlError(err)) {
      ({ code, category, hint, details } = err);
    } else if (err instanceof Errors.CLIError && (err as { parse?: unknown }).parse !== undefined) {
      code = 'USAGE';
      category = 'usage';
    } else if (err instanceof Errors.ExitError) {
      throw err;
    } else if ((err as { code?: string }).code === 'EPIPE') {
      process.exitCode = 0;
      return;
    } else {
      code = 'INTERNAL';
      category = 'internal';
      hint = 'this is a bug in sipctl: run again with --debug and report it';
    }
    const exitCode = EXIT_CODES[category];
    const message = oneLine(err.message || String(err));
    if (this.jsonEnabled()) {
      process.stderr.write(JSON.stringify({ error: { code, category, message, ...(hint ? { hint } : {}), ...(details ? { details } : {}), exitCode } }) + '\n');
    } else {
      process.stderr.write(`sipctl: ${message}${hint ? ` (${hint})` : ''}\n`);
      if (code === 'USAGE') process.stderr.write(`See: sipctl ${(this.id ?? '').replace(/:/g, ' ')} --help\n`.replace(/ +--help/, ' --help'));
    }
    if (debug) process.stderr.write((err.stack ?? '') + (err.cause ? `\ncause: ${(err.cause as Error).stack ?? String(err.cause)}` : '') + '\n');
    process.exitCode = exitCode;
  }
}

/**
 * oclif's parse errors span several lines ("The following errors occurred:", one line per problem,
 * "See more help…"); keep the problems on one line. They may quote a flag's value, which can be a
 * secret (a key, a password), so `--flag=value` is cut to `--flag`.
 */
export function oneLine(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help/.test(l) && !/^The following errors? occurred:?$/.test(l))
    .map((l) => l.replace(/^[-*]\s+/, '').replace(/(--[\w-]+)=\S+/g, '$1'));
  return lines.join('; ') || 'failed';
}

export { SipctlError };
