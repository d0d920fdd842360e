/**
 * @file Column indices of column-per-field data files (CoNLL, CoNLL-U): negative counts from the end.
 */

/** The 0-based index of `column` among `columns`; throws, naming `where` and the range, when out of range. */
export function resolveColumn(what: string, column: number, columns: number, where: string): number {
  const index = column < 0 ? columns + column : column;
  if (!Number.isInteger(column) || index < 0 || index >= columns) {
    throw new Error(
      `${where}: ${what} column ${column} is out of range: expected -${columns}..${columns - 1}, found ${columns} columns`,
    );
  }
  return index;
}
