/** Prompts only when a person is there; otherwise a usage error naming the flag to use. */
import { UsageError } from '../core/errors.js';

export function canPrompt(): boolean {
  return !!process.stdin.isTTY && !!process.stdout.isTTY;
}

export async function promptSecret(message: string, flagHint: string, confirm = false): Promise<string> {
  if (!canPrompt()) throw new UsageError('MISSING_VALUE', `${message.replace(/:$/, '')} is required and there is no terminal to ask on`, `use ${flagHint}`);
  const { password } = await import('@inquirer/prompts');
  const value = await password({ message, mask: '*' });
  if (confirm) {
    const again = await password({ message: 'Repeat to confirm:', mask: '*' });
    if (again !== value) throw new UsageError('PASSWORD_MISMATCH', 'the two entries differ; nothing was changed');
  }
  return value;
}

export async function confirmAction(message: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!canPrompt()) throw new UsageError('CONFIRMATION_REQUIRED', `${message} needs confirmation and there is no terminal to ask on`, 'pass --yes (-y) to confirm');
  const { confirm } = await import('@inquirer/prompts');
  const ok = await confirm({ message, default: false });
  if (!ok) throw new UsageError('ABORTED', 'aborted; nothing was changed');
}

/** Read all of stdin (for --password-stdin and `-` inputs), trimming one trailing newline. */
export async function readStdinValue(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
