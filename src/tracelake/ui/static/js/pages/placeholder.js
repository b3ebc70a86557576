// The body of a page whose API has not landed yet.

import { h, replace } from "../dom.js";

/**
 * Render a short "arrives with …" note.
 * @param {HTMLElement} root
 * @param {{title: string, arrives: string, what: string, extra?: Node|null}} info
 * @returns {{}}
 */
export function comingSoon(root, { title, arrives, what, extra = null }) {
  replace(root,
    h("section", { class: "panel coming-soon", dataset: { testid: "coming-soon" } },
      h("h1", { text: title }),
      h("p", { class: "arrives", text: `Arrives with ${arrives}.` }),
      h("p", { class: "muted", text: what }),
      extra,
      h("p", {}, "Meanwhile: search logs on the ", h("a", { href: "#/logs", text: "Logs" }), " page, or query every table of the lake with SQL on the ",
        h("a", { href: "#/lake", text: "Lake" }), " page.")));
  return {};
}
