"""The chat tab's events: ask (Enter, Send or an example), new chat, open a citation, and
the 👍/👎 feedback with its correction."""

from typing import TYPE_CHECKING

from ui.events import PRIVATE

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

    inputs = [
        chat.msg,
        state.turns,
        state.lang,
        settings.mode,
        settings.top_k,
        settings.rerank,
        settings.answer_mode,
    ]
    outputs = [chat.chatbot, state.turns, chat.msg, chat.cites, chat.viewer, state.view]
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
