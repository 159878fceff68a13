"""Article -> Chunks with exact character offsets into the cleaned article text.

langchain-text-splitters does the splitting; the separators prefer paragraph breaks, then line
breaks, then Vietnamese sentence ends (". ", "? ", "! ", "…", a closing quote after a period),
then clause punctuation, then words, so a passage rarely cuts a sentence. Numbers such as
"1.000" or "19/6." are safe: a sentence break needs whitespace after the mark.
"""

from __future__ import annotations

from functools import lru_cache

from rag.settings import CHUNK_OVERLAP, CHUNK_SIZE
from rag.types import Article, Chunk

SEPARATORS = (
    r"\n\n",
    r"\n",
    r"(?<=[.!?…][\"”’)])\s+",
    r"(?<=[.!?…])\s+",
    r"(?<=[;:])\s+",
    r"(?<=,)\s+",
    r"\s+",
    "",
)


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=list(SEPARATORS),
        is_separator_regex=True,
        keep_separator="end",  # joins pieces with the original whitespace
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )


def chunk_text(
    text: str, chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP
) -> list[tuple[int, int]]:
    """(start, end) spans of the passages of ``text``; ``text[start:end]`` is each passage."""
    if not text.strip():
        return []
    if len(text) <= chunk_size:
        stripped = text.strip()
        start = text.index(stripped)
        return [(start, start + len(stripped))]
    spans: list[tuple[int, int]] = []
    cursor = after = 0
    for piece in _splitter(chunk_size, chunk_overlap).split_text(text):
        # Passages come back in order and overlap at most by chunk_overlap, so the next one
        # starts at or after the previous end less the overlap: searched from there first, or
        # a repetitive text ("000…") would place it inside the previous passage.
        start = text.find(piece, max(cursor, after))
        if start < 0:
            start = text.find(piece, cursor)
        if start < 0:  # the splitter only removes separators, so this cannot happen
            raise AssertionError("chunk is not a substring of its article")
        end = start + len(piece)
        if (
            spans
            and end - start < max(20, chunk_size // 10)
            and end - spans[-1][0] <= chunk_size * 1.25
        ):
            # A scrap ("Theo RT") is no passage on its own: it joins the one before it.
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
        cursor, after = start + 1, end - chunk_overlap
    return spans


def chunk_article(
    article: Article, chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP
) -> list[Chunk]:
    return [
        Chunk(
            article_id=article.id,
            index=i,
            text=article.text[start:end],
            start=start,
            end=end,
            title=article.title,
        )
        for i, (start, end) in enumerate(chunk_text(article.text, chunk_size, chunk_overlap))
    ]


def passage_for_embedding(chunk: Chunk) -> str:
    """The text embedded for a chunk: its article title travels with it, so a passage that
    says "hiệp ước" without naming the parties still matches a question that names them."""
    if chunk.title and not chunk.text.startswith(chunk.title):
        return f"{chunk.title}\n{chunk.text}"
    return chunk.text
