// Which time zone the UI's times are in, said next to them: every page formats times
// in the browser's zone (dom.js `formatTime`), and a reader of a shared link may be in
// another one, so a time column names its zone.

/**
 * The browser's offset as `UTC`, `UTC+2`, `UTC-3:30` at a moment.
 * @param {Date} [at]
 * @returns {string}
 */
export function zoneLabel(at = new Date()) {
  const minutes = -at.getTimezoneOffset();
  if (minutes === 0) return "UTC";
  const sign = minutes > 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  const rest = abs % 60;
  return `UTC${sign}${Math.floor(abs / 60)}${rest ? `:${String(rest).padStart(2, "0")}` : ""}`;
}

/**
 * The browser's zone by name (`Europe/Berlin`), or "" when the browser does not say.
 * @returns {string}
 */
export function zoneName() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

/**
 * A sentence for a tooltip: which zone the times are in.
 * @returns {string}
 */
export function zoneTitle() {
  const name = zoneName();
  const label = zoneLabel();
  return `Times are in your browser's time zone: ${name && name !== "UTC" ? `${name} (${label})` : label}`;
}
