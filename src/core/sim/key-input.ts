/**
 * Where a key (Ki, OP, OPc, transport key) comes from on the command line. A value given as a flag
 * is visible in process lists, so every key also has a file form: a path, or `-` for standard input.
 * A key file holds the key as hex; surrounding whitespace and one trailing newline are ignored.
 * Reading is all this does: the caller validates (normaliseKey) and, on a terminal, prompts.
 */
import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';

export interface KeyInput {
  /** Field name used in messages: 'ki', 'op', 'opc', 'transport key'. */
  field: string;
  /** The flag carrying the value, e.g. '--ki'; its file twin is `${flag}-file`. */
  flag: string;
  value?: string;
  file?: string;
}

export interface KeyReader {
  /** Read a key per its flags; undefined when neither was given. */
  read(input: KeyInput): Promise<string | undefined>;
  /** Warnings collected (e.g. a key file others can read). */
  warnings: string[];
  /** True once standard input has been consumed. */
  readonly stdinUsed: boolean;
}

/**
 * A reader that lets standard input be used once per command (`--ki-file -` and `--op-file -`
 * together cannot both read it). `readStdin` is injected so the CLI and tests can supply it.
 */
export function createKeyReader(readStdin: () => Promise<string>, opts: { stdinTaken?: string } = {}): KeyReader {
  let stdinUsedBy: string | undefined = opts.stdinTaken;
  const warnings: string[] = [];
  return {
    warnings,
    get stdinUsed() {
      return stdinUsedBy !== undefined;
    },
    async read(input: KeyInput): Promise<string | undefined> {
      const fileFlag = `${input.flag}-file`;
      if (input.value !== undefined && input.file !== undefined) {
        throw new UsageError('KEY_SOURCES', `give ${input.field} one way only: ${input.flag} or ${fileFlag}`);
      }
      if (input.value !== undefined) {
        // Not refused (kamctl-style scripts use it), but said every time: any local user can read argv.
        warnings.push(`${input.flag}: the value is visible to other users in the process list (ps); prefer ${input.flag}-file (a 0600 file, or - for standard input) or the prompt`);
        return input.value;
      }
      if (input.file === undefined) return undefined;
      let text: string;
      if (input.file === '-') {
        if (stdinUsedBy !== undefined) {
          throw new UsageError('STDIN_TWICE', `${fileFlag} -: standard input is already used by ${stdinUsedBy}`, 'put one of the values in a file');
        }
        stdinUsedBy = `${fileFlag} -`;
        text = await readStdin();
      } else {
        try {
          const st = statSync(input.file);
          if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
          if ((st.mode & 0o077) !== 0) warnings.push(`${fileFlag} ${input.file} can be read by other users (chmod 600 it)`);
          text = readFileSync(input.file, 'utf8');
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
          throw new UsageError('KEY_FILE_UNREADABLE', `${fileFlag}: cannot read ${input.file} (${code})`);
        }
      }
      const v = text.trim();
      if (v === '') throw new UsageError('KEY_FILE_EMPTY', `${input.field}: ${input.file === '-' ? 'standard input' : input.file} holds no value`);
      return v;
    },
  };
}
