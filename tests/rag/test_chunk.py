import pytest

from rag.chunk import chunk_article, chunk_text, passage_for_embedding
from rag.load import load_paths


@pytest.mark.parametrize("size,overlap", [(900, 150), (300, 50), (120, 0)])
def test_offsets_are_exact_on_seeds(seeds_dir, size, overlap):
    for article in load_paths([seeds_dir]):
        chunks = chunk_article(article, size, overlap)
        assert chunks, article.source
        for c in chunks:
            assert article.text[c.start : c.end] == c.text
            assert c.title == article.title and c.article_id == article.id
            assert len(c.text) <= size * 1.25
        # Together the chunks cover the article: nothing between them is lost except spaces.
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        lost = [article.text[i] for i in range(len(article.text)) if i not in covered]
        assert all(ch.isspace() for ch in lost)


def test_splits_prefer_sentence_ends():
    sentences = [f"Câu số {i} nói về hiệp ước ký ngày 19/6 với 1.000 lao động." for i in range(30)]
    text = " ".join(sentences)
    for start, end in chunk_text(text, 200, 0):
        assert text[start:end].endswith(".")


def test_short_text_is_one_chunk_and_empty_text_none():
    assert chunk_text("  Một câu.  ", 100, 10) == [(2, 10)]
    assert chunk_text("   \n ", 100, 10) == []


def test_title_travels_with_passage(seeds_dir):
    article = next(
        a for a in load_paths([seeds_dir]) if a.source.endswith("004_43dc0896c6e506a4.txt")
    )
    chunks = chunk_article(article, 300, 50)
    later = chunks[-1]
    assert passage_for_embedding(later).startswith(article.title + "\n")
    assert passage_for_embedding(chunks[0]) == chunks[0].text  # already starts with the title
