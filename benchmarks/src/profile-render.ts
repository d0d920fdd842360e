/**
 * @file The step profile as tables: rows of cells, printed with cli-table3 in the terminal or as markdown.
 */
import Table from 'cli-table3';

export interface TableData {
  title: string;
  head: string[];
  rows: string[][];
}

/** A section: a heading, paragraphs (one line each) and tables. */
export interface Section {
  heading: string;
  lines: string[];
  tables: TableData[];
}

export function renderTerminal(sections: readonly Section[]): string {
  const out: string[] = [];
  for (const s of sections) {
    out.push('', s.heading, ...s.lines);
    for (const t of s.tables) {
      const table = new Table({ head: t.head, style: { head: [], border: [] } });
      for (const row of t.rows) table.push(row);
      out.push('', t.title, table.toString());
    }
  }
  return out.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdown(sections: readonly Section[], level = 3): string {
  const out: string[] = [];
  for (const s of sections) {
    out.push(`${'#'.repeat(level)} ${s.heading}`, '');
    if (s.lines.length) out.push(...s.lines.map((l) => (l.startsWith('- ') ? l : `${l}  `)), '');
    for (const t of s.tables) {
      out.push(
        `${t.title}`,
        '',
        `| ${t.head.map(cell).join(' | ')} |`,
        `|${t.head.map(() => ' --- ').join('|')}|`,
      );
      for (const row of t.rows) out.push(`| ${row.map(cell).join(' | ')} |`);
      out.push('');
    }
  }
  return out.join('\n');
}

/** Milliseconds with 2 decimals below 10, 1 above. */
export const ms = (v: number) => (Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1));
export const pct = (part: number, whole: number) =>
  whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '—';
