"""Retriever.overlap: a hybrid question encoded in the question pool's thread while BM25 scores
it on the calling thread gives the same hits, scores and answers as one after the other."""

from __future__ import annotations

import threading

QUESTIONS = (
    "Hiệp ước mới thay thế những văn kiện nào?",
    "Putin tặng Kim món quà gì?",
    "which agreements does the treaty replace?",
    "Giá vàng hôm nay bao nhiêu?",
)


def _forget(retriever) -> None:
    retriever._vectors.clear()
    retriever._lexical.clear()


def _hits(assistant, question: str) -> list[tuple]:
    return [
        (h.chunk.article_id, h.chunk.index, h.score, tuple(sorted(h.scores.items())))
        for h in assistant.search(question, k=5, mode="hybrid")
    ]


def test_overlapped_encoding_gives_the_same_hits_and_answers(seeded_assistant):
    retriever = seeded_assistant.retriever()
    encoder = retriever.encoder
    threads: list[str] = []
    encode = encoder.encode_queries

    def recording(texts):
        threads.append(threading.current_thread().name)
        return encode(texts)

    encoder.encode_queries = recording
    try:
        for question in QUESTIONS:
            retriever.overlap = False
            _forget(retriever)
            serial = _hits(seeded_assistant, question)
            answer = seeded_assistant.ask(question, mode="hybrid")
            retriever.overlap = True
            _forget(retriever)
            assert _hits(seeded_assistant, question) == serial
            _forget(retriever)
            again = seeded_assistant.ask(question, mode="hybrid")
            assert (again.text, again.citations) == (answer.text, answer.citations)
    finally:
        encoder.encode_queries = encode
        retriever.overlap = False
    # Serial: the calling thread encodes; overlapped: the pool's thread does.
    assert any(name.startswith("rag-question") for name in threads)
    assert any(not name.startswith("rag-question") for name in threads)
