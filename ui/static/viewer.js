// The source viewer (gr.HTML js_on_load): whenever the server replaces its content, centre the
// cited sentence (class rag-target) inside the article box, then bring the viewer onto the
// screen only if it is not already there (the page does not jump when it is visible).
const scrollToCited = () => {
  const target = element.querySelector(".rag-target");
  const box = element.querySelector(".rag-article");
  if (!target || !box) return;
  const t = target.getBoundingClientRect();
  const b = box.getBoundingClientRect();
  box.scrollTop += t.top - b.top - Math.max(0, (box.clientHeight - t.height) / 2);
  element.scrollIntoView({ block: "nearest" });
  box.setAttribute("data-scrolled", "1");
};
new MutationObserver(() => requestAnimationFrame(scrollToCited)).observe(element, {
  childList: true,
  subtree: true,
});
scrollToCited();
