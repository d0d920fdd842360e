/**
 * @file Markdown tables for generated reports (benchmarks, experiment results).
 */

/** A GitHub-flavoured markdown table; pipes inside cells are escaped. */
export function markdownTable(head: string[], rows: string[][]): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}
