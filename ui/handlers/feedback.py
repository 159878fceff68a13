"""👍/👎 on the chat's answers and the optional correction, stored by rag.feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.feedback import FeedbackStore, feedback_path
from ui.i18n import K, t

if TYPE_CHECKING:
    from rag.settings import Settings


class FeedbackHandlers:
    def __init__(self, settings: Settings) -> None:
        self.store = FeedbackStore(feedback_path(settings.index_dir))

    def like(self, turns, ratings, lang, top_k, evt):
        """A 👍/👎 click on an answer: stored at once; a second click on the same answer
        updates its row instead of adding another."""
        import gradio as gr

        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = int(index) // 2  # messages alternate user, assistant
        if not (0 <= turn < len(turns or [])) or turns[turn].get("answer") is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        liked = evt.liked
        rating = 1 if liked is True or liked == "Like" else -1 if liked in (False, "Dislike") else 0
        ratings = dict(ratings or {})
        key = str(turn)
        if key in ratings:
            self.store.set_rating(ratings[key], rating)
        else:
            ratings[key] = self.store.add(turns[turn]["answer"], rating, top_k=int(top_k))
        msg = (
            t(K.thanks_up, lang, turn=turn + 1)
            if rating > 0
            else t(K.thanks_down, lang, turn=turn + 1)
            if rating < 0
            else t(K.feedback_removed, lang)
        )
        return ratings, ratings[key], msg, gr.update(open=True) if rating < 0 else gr.skip()

    def correct(self, text, feedback_id, lang):
        if feedback_id is None:
            return t(K.correction_needs_rating, lang), text
        if not (text or "").strip():
            return t(K.correction_empty, lang), text
        self.store.set_correction(int(feedback_id), text)
        return t(K.correction_saved, lang), ""
