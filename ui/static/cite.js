// Installed once by the citations panel (gr.HTML js_on_load: `element`, `trigger` are given).
// A click on any "[n]" link (in a chat bubble or a citation card) or on a card asks the server
// for that citation's source viewer. Event delegation on the document: the chat bubbles are
// re-rendered on every message, so listeners on the links themselves would be lost.
if (!window.__ragCiteInstalled) {
  window.__ragCiteInstalled = true;
  document.addEventListener(
    "click",
    (ev) => {
      const el = ev.target instanceof Element ? ev.target : null;
      if (!el) return;
      const link = el.closest("a");
      const cite = link
        ? link.getAttribute("href")
        : el.closest("[data-cite]")?.getAttribute("data-cite");
      const m = /^#rag-cite-(\d+)-(\d+)$/.exec(cite || "");
      if (!m) return; // an ordinary link (an article's URL): leave it alone
      ev.preventDefault();
      ev.stopPropagation();
      trigger("cite", { turn: Number(m[1]), n: Number(m[2]) });
    },
    true,
  );
}
