/**
 * --filter for keys and AoRs: with `*` or `?` it is a glob over the whole name
 * (`1.2.3.*`, `*@example.com`); without, a plain substring (`6131` matches `61312341234`).
 * Case-sensitive, like the names themselves.
 */
export function makeFilter(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined || pattern === '') return () => true;
  if (!/[*?]/.test(pattern)) return (name) => name.includes(pattern);
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
  return (name) => re.test(name);
}
