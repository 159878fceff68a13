"""The chat: answer a question (streamed) within the source filters, open a citation, start a
new conversation; the filters' choices and the line that says which are on."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from rag.errors import RagError
from ui import render
from ui.filters import FilterError, filter_note, page_filters, site_choices
from ui.i18n import K, t

if TYPE_CHECKING:
    from rag.pipeline import Assistant
    from rag.types import Answer, Filters
    from ui.options import PageOptions

# Pause between streamed sentences: long enough for the eye to follow the answer arriving,
# short enough that a two-sentence answer is complete well under a second.
STREAM_DELAY_S = 0.05
HISTORY_TURNS = 6  # earlier turns sent with a follow-up (for the rewritten standalone query)


class ChatHandlers:
    def __init__(self, assistant: Assistant, options: PageOptions) -> None:
        self.assistant = assistant
        self.options = options

    def ask(
        self,
        question: str,
        turns: list[dict],
        mode: str,
        top_k: float,
        rerank: bool,
        answer: str,
        filters: Filters | None = None,
    ) -> Answer:
        history = [
            (turn["question"], turn["answer"].text)
            for turn in turns
            if turn.get("answer") is not None
        ][-HISTORY_TURNS:]
        result = self.assistant.ask(
            question,
            history,
            top_k=int(top_k),
            mode=mode or None,
            # Without a reranker model the pipeline's own setting stands (it says why it is off).
            rerank=bool(rerank) if self.options.can_rerank else None,
            answer_mode=answer or None,
            filters=filters or None,
        )
        return replace(result, warnings=self.own_warnings(result))

    def own_warnings(self, answer: Answer) -> tuple[str, ...]:
        """The warnings that belong to this answer alone. The standing ones (fallback model,
        no vectors, reranker off) are shown once in the status line, not in every bubble."""
        standing = {self.assistant.model_warning(), self.options.rerank_reason}
        return tuple(
            w for w in answer.warnings if w not in standing and "retrieval is unavailable" not in w
        )

    def respond(
        self, message, turns, lang, mode, top_k, rerank, answer_mode, site="", since="", until=""
    ):
        """Generator: the question appears at once, then the answer sentence by sentence, then
        the citations panel; (chat, turns, input, citations, viewer, open citation, filter
        note). Only articles the filters admit are cited; a date the filters cannot use is
        said in the filter note, and the question stays in the input, unasked."""
        import gradio as gr

        question = " ".join((message or "").split())
        if not question:
            yield (gr.skip(),) * 7
            return
        try:
            filters = page_filters(site, since, until)
        except FilterError as exc:
            yield (gr.skip(),) * 6 + (f"⚠ {render.md_escape(exc.message(lang))}",)
            return
        note = self.filter_note(site, since, until, lang) if filters else ""
        turns = list(turns or [])
        turn = len(turns)
        pending = (question, f"*{render.md_escape(t(K.searching, lang))}*")
        yield (
            render.chat_messages(turns, lang, pending),
            turns,
            "",
            gr.skip(),
            gr.skip(),
            None,
            note,
        )
        try:
            answer = self.ask(question, turns, mode, top_k, rerank, answer_mode, filters)
        except RagError as exc:
            turns.append({"question": question, "answer": None, "error": str(exc)})
            yield (
                render.chat_messages(turns, lang),
                turns,
                gr.skip(),
                render.citations_html(None, turn, lang),
                render.source_html(None, None, lang),
                None,
                gr.skip(),
            )
            return
        for prefix in render.stream_prefixes(answer.text)[:-1]:
            partial = replace(answer, text=prefix, warnings=())
            bubble = render.answer_markdown(partial, turn, lang)
            yield (render.chat_messages(turns, lang, (question, bubble)),) + (gr.skip(),) * 6
            time.sleep(STREAM_DELAY_S)
        turns.append({"question": question, "answer": answer, "error": None})
        yield (
            render.chat_messages(turns, lang),
            turns,
            gr.skip(),
            render.citations_html(answer, turn, lang),
            render.source_html(None, None, lang),
            None,
            gr.skip(),
        )

    # ---- source filters ----------------------------------------------------------------
    def filter_note(self, site, since, until, lang) -> str:
        """The line under the question box: which filters are on (and how many articles they
        leave), or why a date cannot be used; "" with no filter."""
        return filter_note(self.assistant.articles(), site, since, until, lang)

    def site_choices(self, lang) -> list[tuple[str, str]]:
        """The outlet filter's choices: all outlets, then each outlet of the indexed articles."""
        return site_choices(self.assistant.articles(), lang)

    def filters_view(self, lang, site, since, until):
        """The outlet choices (in ``lang``, after a change to the articles) and the filter note.
        The chosen outlet stays chosen, even when its last article has gone (the note then
        says that no article matches)."""
        import gradio as gr

        articles = self.assistant.articles()
        choices = site_choices(articles, lang)
        if site and site not in {value for _, value in choices}:
            choices.append((site, site))
        note = filter_note(articles, site, since, until, lang)
        return gr.update(choices=choices, value=site or ""), note

    def clear_filters(self):
        """The "Clear filters" button: every outlet, any date; the note goes away."""
        return "", "", "", ""

    def citation(self, turns: list[dict], turn: int, n: int):
        """(answer, citation, article) for the [n] of a turn; None when there is no such one."""
        if not (0 <= turn < len(turns or [])):
            return None
        answer = turns[turn].get("answer")
        c = next((c for c in answer.citations if c.n == n), None) if answer else None
        if c is None:
            return None
        return answer, c, self.assistant.article(c.article_id)

    def open_citation(self, turns, lang, evt):
        import gradio as gr

        data = getattr(evt, "_data", None) or {}
        try:
            turn, n = int(data["turn"]), int(data["n"])
        except (KeyError, TypeError, ValueError):
            return gr.skip(), gr.skip(), gr.skip()
        found = self.citation(turns, turn, n)
        if found is None:
            return gr.skip(), gr.skip(), gr.skip()
        answer, c, article = found
        return (
            render.citations_html(answer, turn, lang, selected=n),
            render.source_html(article, c, lang),
            [turn, n],
        )

    def panels(self, turns, view, lang):
        """(citations panel, source viewer) in ``lang`` for what is open: the citation
        ``view`` ([turn, n]) when one is, else the last answer's citations."""
        answer = c = article = None
        turn = 0
        if view:
            found = self.citation(turns, int(view[0]), int(view[1]))
            if found:
                answer, c, article = found
                turn = int(view[0])
        elif turns and turns[-1].get("answer") is not None:
            answer, turn = turns[-1]["answer"], len(turns) - 1
        return (
            render.citations_html(answer, turn, lang, selected=c.n if c else None),
            render.source_html(article, c, lang),
        )

    def clear(self, lang):
        return (
            [],
            [],
            render.citations_html(None, 0, lang),
            render.source_html(None, None, lang),
            None,
            {},
        )
