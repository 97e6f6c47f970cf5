/**
 * What people type before oclif sees it. oclif takes the first word as the command, so
 * `sipctl --json uptime` or `sipctl --rpc URL ul dump` would look for a command named "--json";
 * and `sipctl help`, `-h`, `-v` are what people try first. Leading global flags move behind the
 * command (before a `--`), `help X` becomes `X --help`, `-h` becomes `--help`, a lone `-v` `--version`.
 */

/** Global flags that take a value (`--db URL`): the next word belongs to them, not to the command. */
const VALUE_FLAGS = new Set(['--config', '--kamctlrc', '--db', '--rpc', '--node', '--timeout', '--rpc-auth-file', '--rpc-ca-file', '--domain', '-d']);

export function normaliseArgv(argv: readonly string[]): string[] {
  const args = [...argv];
  if (args.length === 0) return args;
  if (args.length === 1 && (args[0] === '-v' || args[0] === '-V')) return ['--version'];
  if (args[0] === 'help') return args.length === 1 ? ['--help'] : [...args.slice(1), '--help'];

  // Leading flags (with their values) move behind the command words.
  const leading: string[] = [];
  let i = 0;
  while (i < args.length && args[i].startsWith('-') && args[i] !== '--') {
    const a = args[i];
    leading.push(a);
    i++;
    if (VALUE_FLAGS.has(a) && i < args.length) leading.push(args[i++]);
  }
  let rest = args.slice(i);
  if (leading.length && rest.length && rest[0] !== '--') {
    const dd = rest.indexOf('--');
    rest = dd < 0 ? [...rest, ...leading] : [...rest.slice(0, dd), ...leading, ...rest.slice(dd)];
  } else {
    rest = [...leading, ...rest];
  }
  // -h is no command's short flag: it is help, wherever it stands (but not as a flag's value).
  const dd = rest.indexOf('--');
  return rest.map((a, k) => (a === '-h' && (dd < 0 || k < dd) && !(k > 0 && VALUE_FLAGS.has(rest[k - 1])) ? '--help' : a));
}
