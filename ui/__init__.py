"""Gradio chat UI and HTTP API: a thin shell over rag.pipeline."""
