"""The chat tab's events: ask (Enter, Send or an example) within the source filters, new
chat, open a citation, the filters themselves, and the 👍/👎 feedback with its correction."""

from typing import TYPE_CHECKING

from ui.events import PRIVATE, answer_controls

if TYPE_CHECKING:
    from ui.events.saving import Saver
    from ui.handlers.chat import ChatHandlers
    from ui.handlers.feedback import FeedbackHandlers
    from ui.layout.chat import ChatTab
    from ui.layout.settings import SettingsTab
    from ui.layout.state import PageState


def wire_chat(
    chat: "ChatTab",
    settings: "SettingsTab",
    state: "PageState",
    saver: "Saver",
    handlers: "ChatHandlers",
) -> None:
    import gradio as gr

    inputs = [chat.msg, state.turns, state.lang, *answer_controls(settings, chat)]
    outputs = [
        chat.chatbot,
        state.turns,
        chat.msg,
        chat.cites,
        chat.viewer,
        state.view,
        chat.filter_note,
    ]
    saver.after(chat.msg.submit(handlers.respond, inputs, outputs, **PRIVATE))
    saver.after(chat.send.click(handlers.respond, inputs, outputs, **PRIVATE))

    def pick_example(evt: gr.SelectData):
        value = evt.value if isinstance(evt.value, dict) else {}
        return value.get("text", "")

    saver.after(
        chat.chatbot.example_select(pick_example, None, chat.msg, **PRIVATE).then(
            handlers.respond, inputs, outputs, **PRIVATE
        )
    )
    cleared = [chat.chatbot, state.turns, chat.cites, chat.viewer, state.view, state.ratings]
    saver.after(chat.clear.click(handlers.clear, [state.lang], cleared, **PRIVATE))
    # the chat's own 🗑 button
    saver.after(chat.chatbot.clear(handlers.clear, [state.lang], cleared, **PRIVATE))

    def on_cite(turns, lang, evt: gr.EventData):
        return handlers.open_citation(turns, lang, evt)

    chat.cites.cite(
        on_cite, [state.turns, state.lang], [chat.cites, chat.viewer, state.view], **PRIVATE
    )
    wire_filters(chat, state, saver, handlers)


def wire_filters(
    chat: "ChatTab", state: "PageState", saver: "Saver", handlers: "ChatHandlers"
) -> None:
    """The source filters: the note under the question box follows them (a date once it is
    typed: on Enter or leaving the box), each change is saved in the browser, and the outlet
    choices follow the articles (any upload or delete) and the language."""
    filters = [chat.site, chat.date_from, chat.date_to]
    note_inputs = [*filters, state.lang]
    for trigger in (
        chat.site.change,
        chat.date_from.submit,
        chat.date_from.blur,
        chat.date_to.submit,
        chat.date_to.blur,
    ):
        saver.after(trigger(handlers.filter_note, note_inputs, [chat.filter_note], **PRIVATE))
    saver.after(
        chat.filter_clear.click(
            handlers.clear_filters, None, [*filters, chat.filter_note], **PRIVATE
        )
    )
    view = [state.lang, *filters]
    for changed in (state.gen.change, state.lang.change):
        changed(handlers.filters_view, view, [chat.site, chat.filter_note], **PRIVATE)


def wire_feedback(
    chat: "ChatTab", settings: "SettingsTab", state: "PageState", handlers: "FeedbackHandlers"
) -> None:
    import gradio as gr

    def on_like(turns, ratings, lang, top_k, evt: gr.LikeData):
        return handlers.like(turns, ratings, lang, top_k, evt)

    chat.chatbot.like(
        on_like,
        [state.turns, state.ratings, state.lang, settings.top_k],
        [state.ratings, state.last_feedback, chat.fb_status, chat.fb_box],
        **PRIVATE,
    )
    chat.fb_send.click(
        handlers.correct,
        [chat.correction, state.last_feedback, state.lang],
        [chat.fb_status, chat.correction],
        **PRIVATE,
    )
