// Installed once (gr.HTML js_on_load of the header). Gradio writes a few words of its own
// ("Drop File Here", "Use via API", its buttons' aria-labels) in the browser's locale, not in
// the page's; this swaps them for the page's language, whose words the header carries in
// data-words (built from ui/i18n.py, the one table of the page's strings).
if (!window.__ragI18nInstalled) {
  window.__ragI18nInstalled = true;
  // Article text and answers are content, never translated.
  const SKIP =
    "#rag-chat .message-content, #rag-cites, #rag-viewer, #rag-preview, #rag-articles, " +
    "#rag-copy, textarea, input, script, style";
  const header = () => document.getElementById("rag-header");
  const words = () => {
    try {
      return JSON.parse(header()?.dataset.words || "{}");
    } catch {
      return {};
    }
  };
  let pending = false;
  const apply = () => {
    pending = false;
    const map = words();
    const root = document.querySelector("gradio-app") || document.body;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const key = n.nodeValue.trim();
      if (!key || !(key in map) || map[key] === key) continue;
      if (n.parentElement?.closest(SKIP)) continue;
      n.nodeValue = n.nodeValue.replace(key, map[key]);
    }
    for (const el of root.querySelectorAll("[aria-label], [title]")) {
      if (el.closest(SKIP)) continue;
      for (const attr of ["aria-label", "title"]) {
        const v = el.getAttribute(attr);
        if (v && v in map && map[v] !== v) el.setAttribute(attr, map[v]);
      }
    }
    // The chat's example buttons: "Select example 1: …" and a list role without list items
    // (an axe violation); a labelled group instead.
    const example = map["Select example"];
    for (const el of root.querySelectorAll("#rag-chat .examples")) {
      if (el.getAttribute("role") !== "group") el.setAttribute("role", "group");
      if (example && el.getAttribute("aria-label") !== example) el.setAttribute("aria-label", example);
      for (const b of el.querySelectorAll("button.example[aria-label]")) {
        const m = /^[^:]*?(\d+): ([\s\S]*)$/.exec(b.getAttribute("aria-label"));
        const want = m && example ? `${example} ${m[1]}: ${m[2]}` : null;
        if (want && b.getAttribute("aria-label") !== want) b.setAttribute("aria-label", want);
      }
    }
    const lang = header()?.dataset.lang;
    if (lang && document.documentElement.lang !== lang) document.documentElement.lang = lang;
  };
  new MutationObserver(() => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(apply);
    }
  }).observe(document.body, {
    childList: true,
    subtree: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["aria-label", "title", "data-words"],
  });
  apply();
}
