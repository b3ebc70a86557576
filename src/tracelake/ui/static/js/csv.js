// CSV (RFC 4180) from a result table, made and downloaded in the browser.

/**
 * One CSV cell. Objects become JSON; text that a spreadsheet would run as a formula
 * (starting with = + - @, tab or carriage return) is prefixed with `'`.
 * @param {any} value
 * @returns {string}
 */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = typeof value === "object" ? JSON.stringify(value) : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * A whole table as CSV text with a header line and CRLF line ends.
 * @param {string[]} columns
 * @param {any[][]} rows
 * @returns {string}
 */
export function toCSV(columns, rows) {
  return [columns, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/**
 * Offer text as a file download.
 * @param {string} filename
 * @param {string} text
 * @param {string} [type]
 */
export function download(filename, text, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
