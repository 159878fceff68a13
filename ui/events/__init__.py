"""The page's events: which handler runs on which component, with which inputs and outputs.
One module per part of the page, each taking the dataclasses of ui.layout and the handlers of
ui.handlers.

No `from __future__ import annotations` in these modules: Gradio finds the event-data
argument of a handler (gr.EventData, gr.LikeData, gr.SelectData) by evaluating its
annotation, which fails for the string annotations that import makes (gradio is imported
lazily, inside the wiring functions). Names only imported for type checking are quoted.
"""

# Every event is private: not an endpoint of the Gradio client API (ui.events.client_api
# declares those).
PRIVATE = {"api_visibility": "private"}


def answer_controls(settings, chat) -> list:
    """How the reader wants answers (the settings tab's mode, top-k, reranker, answer mode, then
    the chat's source filters), in the order the chat handler takes and the browser saves them."""
    return [
        settings.mode,
        settings.top_k,
        settings.rerank,
        settings.answer_mode,
        chat.site,
        chat.date_from,
        chat.date_to,
    ]
