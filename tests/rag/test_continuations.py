"""Sentences that continue the one before them, and the question words an answer must hold."""

from __future__ import annotations

from rag.query import focus_pairs, focus_words
from rag.sentences import continues


def test_sentences_opening_with_a_connective_continue_the_one_before():
    assert continues("Cụ thể, năm 2023, kim ngạch thương mại song phương tăng 9 lần.")
    assert continues("Trước đó, Điện Kremlin cho biết hiệp ước sẽ thay thế các văn bản cũ.")
    assert continues("Theo ông, đây là cơ sở pháp lý để bảo vệ hòa bình.")
    assert continues("“Ngoài ra, hai bên sẽ hợp tác về năng lượng”, ông nói.")
    # A source named in the sentence itself, or a clause of time: the sentence stands alone.
    assert not continues("Theo ông Ushakov, cần phải có hiệp ước mới.")
    assert not continues("Trước khi đón Tổng thống Putin, nhà lãnh đạo Triều Tiên phát biểu.")
    assert not continues("Cụ thểx là một từ không có.")


def test_focus_words_keep_thay_the_and_leave_titles_out():
    assert focus_words("Hiệp ước mới thay thế những văn kiện nào?") == {
        "ước",
        "mới",
        "thay",
        "thế",
        "văn",
        "kiện",
    }
    # "thế" of "thế nào" asks; "ông" of "ông Kim" is part of a name.
    assert "thế" not in focus_words("Ukraine đã phản ứng thế nào khi bị tấn công?")
    assert "ông" not in focus_words("Ông Putin gửi thư cho ông Kim Jong-un nhân dịp gì?")
    assert focus_pairs("Hiệp ước mới thay thế những văn kiện nào?") >= {"thay thế", "văn kiện"}
