"""Text -> float32 vectors and nothing else (no FAISS, no SQLite, no Gradio)."""
