// The benchmark table: one row per path, Tessera beside its reference, the ratio and the target of issue 14.
export interface Row {
  path: string;
  reference: string;
  tessera: string;
  ratio: string;
  target: string;
}

const HEADER: Row = {
  path: 'path',
  reference: 'reference',
  tessera: 'Tessera',
  ratio: 'ratio',
  target: 'target',
};
const KEYS = Object.keys(HEADER) as (keyof Row)[];

/** The rows as a Markdown table (readable in a terminal and pasteable into docs/performance.md). */
export function formatTable(rows: Row[]): string {
  const line = (row: Row) => `| ${KEYS.map((k) => row[k]).join(' | ')} |`;
  return [line(HEADER), `|${KEYS.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 0.1 ? 3 : 2)}×` : 'n/a');
