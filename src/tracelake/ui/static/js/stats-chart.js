// A `| stats … by bin(N)` result as time series: one line per aggregate and group, so a
// query like `| stats count() by bin(1m), service` is drawn as well as tabled.

/**
 * The bin column of a stats result (`bin(5m)`), or null when it has none.
 * @param {string[]} columns
 * @returns {string|null}
 */
export function binColumn(columns) {
  return columns.find((c) => /^bin\(\s*\d+\s*[smhd]\s*\)$/.test(c)) || null;
}

/**
 * Series of a stats result with a bin column. Aggregate columns are the ones whose
 * values are numbers (group keys come back as text); each distinct combination of the
 * other group keys makes one series per aggregate.
 * @param {{columns: string[], rows: object[]}} result
 * @param {number} [max] series kept (the ones with the largest totals)
 * @returns {{series: Array<{label: string, points: Array<[number, number]>}>, dropped: number}}
 */
export function statsSeries(result, max = 12) {
  const bin = binColumn(result.columns);
  if (!bin) return { series: [], dropped: 0 };
  const others = result.columns.filter((c) => c !== bin);
  const aggregates = others.filter((c) => result.rows.some((r) => typeof r[c] === "number")
    && result.rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === "number"));
  const keys = others.filter((c) => !aggregates.includes(c));
  const byLabel = new Map();
  for (const row of result.rows) {
    const t = Date.parse(row[bin]) / 1000;
    if (!Number.isFinite(t)) continue;
    const group = keys.map((k) => `${k}=${row[k] ?? "(none)"}`).join(" ");
    for (const agg of aggregates) {
      const value = row[agg];
      if (typeof value !== "number") continue;
      const label = [group, !group || aggregates.length > 1 ? agg : ""].filter(Boolean).join(" · ");
      if (!byLabel.has(label)) byLabel.set(label, { label, points: [], total: 0 });
      const s = byLabel.get(label);
      s.points.push([t, value]);
      s.total += Math.abs(value);
    }
  }
  const all = [...byLabel.values()].sort((a, b) => b.total - a.total);
  const series = all.slice(0, max).map(({ label, points }) => ({ label, points: points.sort((a, b) => a[0] - b[0]) }));
  return { series, dropped: Math.max(0, all.length - max) };
}
