"""Cited question answering over Vietnamese news.

Heavy libraries (torch, faiss, gradio, ray) are imported lazily inside the functions that need
them, so `import rag` and `rag --help` stay instant.
"""

__version__ = "0.1.0"
