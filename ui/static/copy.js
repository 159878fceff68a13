// Installed once (gr.HTML js_on_load of the hidden #rag-copy). Gradio's copy button copies a
// message's markdown source (escapes, link syntax) and puts the same source in the bubble's
// aria-label. This makes both plain text: the copy is the server's plain version of the
// answer with its sources (data-copy of #rag-copy-data), the aria-label the visible text.
if (!window.__ragCopyInstalled) {
  window.__ragCopyInstalled = true;
  const data = () => {
    try {
      return JSON.parse(document.getElementById("rag-copy-data")?.dataset.copy || "{}");
    } catch {
      return {};
    }
  };
  // Markdown as ui/render/answer.py writes it -> the text it shows.
  const unmarkdown = (md) =>
    md
      .replace(/\[\\\[(\d+)\\\]\]\([^)]*\)/g, "[$1]")
      .replace(/\\([!-/:-@[-`{-~])/g, "$1")
      .replace(/^\*(.*)\*$/gm, "$1")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
  const plain = (text) => {
    if (typeof text !== "string") return text;
    const turns = new Set([...text.matchAll(/\(#rag-cite-(\d+)-\d+/g)].map((m) => m[1]));
    const known = data().plain || {};
    if (turns.size === 1) {
      const turn = [...turns][0];
      if (known[turn]) return known[turn];
    }
    return /\\[!-/:-@[-`{-~]|\]\(#rag-cite-/.test(text) ? unmarkdown(text) : text;
  };
  const clip = navigator.clipboard;
  if (clip && clip.writeText) {
    const write = clip.writeText.bind(clip);
    clip.writeText = (text) => write(plain(text));
  }
  // Without the Clipboard API (plain http on another host) Gradio copies from a textarea it
  // puts off screen: rewrite that copy too.
  document.addEventListener(
    "copy",
    (ev) => {
      const el = document.activeElement;
      if (el instanceof HTMLTextAreaElement && el.style.left === "-999999px") {
        ev.clipboardData.setData("text/plain", plain(el.value));
        ev.preventDefault();
      }
    },
    true,
  );
  let pending = false;
  let lastStatus = "";
  const relabel = () => {
    pending = false;
    const d = data();
    const bubbles = document.querySelectorAll(
      '#rag-chat [data-testid="bot"], #rag-chat [data-testid="user"]',
    );
    for (const el of bubbles) {
      const body = el.querySelector(".message-content") || el;
      const who = el.dataset.testid === "bot" ? d.bot : d.you;
      const want = `${who || ""}: ${body.innerText.trim()}`;
      if (el.getAttribute("aria-label") !== want) el.setAttribute("aria-label", want);
    }
    // A feedback confirmation is shown under the chat: bring it on screen when it changes.
    const status = document.getElementById("rag-feedback-status");
    const now = status?.innerText.trim() || "";
    if (now && now !== lastStatus) status.scrollIntoView({ block: "nearest" });
    lastStatus = now;
  };
  new MutationObserver(() => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(relabel);
    }
  }).observe(document.body, {
    childList: true,
    subtree: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["aria-label"],
  });
  relabel();
}
