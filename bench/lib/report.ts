/** Plain-text tables for the terminal. */

export type Cell = string | number | boolean | undefined;

function text(c: Cell): string {
  if (c === undefined) return '';
  if (typeof c === 'number') return Number.isFinite(c) ? c.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(c);
  return String(c);
}

/** Left-aligned first column, right-aligned numbers. */
export function table(title: string, headers: string[], rows: Cell[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(text))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[], isHeader = false) =>
    r
      .map((c, i) => {
        const numeric = !isHeader && i > 0 && /^[-+]?[\d,.]+(?:\s?[a-zµ%×/]+)?$/.test(c);
        return numeric ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [`\n${title}`, line(headers, true), rule, ...cells.slice(1).map((r) => line(r))].join('\n');
}
