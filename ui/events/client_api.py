"""The Gradio client API: gradio_client.Client(url).predict(..., api_name="ask" | "articles" |
"health"). The page's own events are private; these three are the endpoints."""

from typing import TYPE_CHECKING

from ui import render

if TYPE_CHECKING:
    from rag.pipeline import Assistant


def install_client_api(assistant: "Assistant") -> None:
    """Declare the endpoints; call inside the gr.Blocks."""
    import gradio as gr

    def ask(question: str, top_k: int = 5, mode: str = "hybrid") -> dict:
        """Answer a question with citations; the same JSON as `rag ask --json`."""
        return assistant.ask(question, top_k=int(top_k), mode=mode or None).to_dict()

    def articles(query: str = "") -> list:
        """The indexed articles whose title, outlet, byline, source, date or id contain the
        query's words."""
        return render.filter_articles(assistant.articles(), query)

    def health() -> dict:
        """What is indexed and which embedding model is in use."""
        return assistant.info()

    gr.api(ask, api_name="ask")
    gr.api(articles, api_name="articles")
    gr.api(health, api_name="health")
