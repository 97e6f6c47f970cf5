/**
 * Row counts for multi-row statements, from a fixed ladder of powers of two.
 *
 * A multi-row INSERT/UPDATE/DELETE … IN is one statement text per row count, and every text
 * executed is a server-side prepared statement that mysql2 caches per connection (LRU,
 * maxPreparedStatements) together with a column definition object per parameter. Batches whose
 * size follows the load (2 rows now, 173 in a busy moment, 241 after a database hiccup) made
 * hundreds of different texts, each kept with up to thousands of parameter definitions: in a
 * soak at 300 REGISTERs/s the cached statements were the heap's largest growing item
 * (issue 18: 78,688 → 105,110 ColumnDefinition objects in 4.5 minutes). Cutting a batch into
 * chunks of 2^k rows (greedy: 37 = 32 + 4 + 1) bounds the texts to log2(max) + 1 per statement
 * kind for at most that many statements per batch.
 */
export function statementSizes(n: number, max: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`statementSizes: bad row count ${n}`);
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`statementSizes: bad maximum ${max}`);
  let top = 1;
  while (top * 2 <= max) top *= 2;
  const out: number[] = [];
  let left = n;
  for (let size = top; left > 0; ) {
    if (left >= size) {
      out.push(size);
      left -= size;
    } else size /= 2;
  }
  return out;
}

/** The slices of `rows` in statementSizes() order. */
export function statementChunks<T>(rows: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (const size of statementSizes(rows.length, max)) {
    out.push(rows.slice(i, i + size));
    i += size;
  }
  return out;
}
