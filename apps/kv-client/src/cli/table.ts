// A table in etcdctl's style (olekukonko/tablewriter as etcdctl configures it):
// centred upper-case headers, right-aligned cells, `+---+` rules.

function centre(text: string, width: number): string {
  const gap = width - text.length;
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + text + ' '.repeat(gap - left);
}

/** renderTable draws a header row and data rows as etcdctl's `-w table` does. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const rule = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const line = (cells: readonly string[], align: (text: string, width: number) => string): string =>
    `|${widths.map((width, column) => ` ${align(cells[column] ?? '', width)} `).join('|')}|`;
  const out = [rule, line(header, centre), rule];
  for (const row of rows) out.push(line(row, (text, width) => text.padStart(width)));
  out.push(rule);
  return out.join('\n');
}
