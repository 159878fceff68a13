from rag.clean import clean_text
from rag.load import load_paths


def _seed(seeds_dir, prefix):
    (path,) = sorted(seeds_dir.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8"), clean_text(path.read_text(encoding="utf-8"))


def test_footer_of_004_is_removed_and_story_kept(seeds_dir):
    raw, text = _seed(seeds_dir, "004")
    for chrome in (
        "Đường dây nóng",
        "0943 113 999",
        "Copyright",
        "VCCorp",
        "btv@soha.vn",
        "Liên hệ quảng cáo",
        "giaitrixahoi@admicro.vn",
        "Nguyễn Huy Tưởng",
        "Chat với tư vấn viên",
        "Chính sách bảo mật",
    ):
        assert chrome not in text, chrome
    for sentence in (
        "Bình Nhưỡng hy vọng sẽ đưa hơn 1.000 lao động của mình đến khu vực Donbas",
        "Reuters cho biết Ukraine đã ngay lập tức cắt đứt quan hệ với Triều Tiên",
        "sẽ phát triển dựa trên một thỏa thuận được ký kết vào năm 2019",
    ):
        assert sentence in text


def test_menu_of_003_is_removed(seeds_dir):
    raw, text = _seed(seeds_dir, "003")
    assert "Dòng sự kiện" not in text
    assert "Xung đột Israel - Hezbollah" not in text
    assert "Ukraine tấn công tỉnh Kursk" not in text
    assert text.startswith("Nga, Triều Tiên sắp ký hiệp định đối tác chiến lược toàn diện")
    assert "thỏa thuận này sẽ thay thế một số thỏa thuận giữa 2 nước từ thời Liên Xô" in text


def test_teasers_of_002_are_removed(seeds_dir):
    raw, text = _seed(seeds_dir, "002")
    for teaser in (
        "Hwasong-19",
        "nhà máy nhiệt điện",
        "Iran",
        "IISS",
        "61 tỷ USD",
        "Milei",
        "Rafah",
        "Tanzania",
        "Shoigu",
    ):
        assert teaser not in text, teaser
    assert "Ông Putin từng thăm Triều Tiên 24 năm trước" in text
    assert (
        "sẽ thay thế các văn kiện song phương và tuyên bố được ký kết vào năm 1961, 2000 và 2001"
        in text
    )


def test_every_sentence_of_clean_articles_survives(seeds_dir):
    """000 and 001 have no chrome: every line must reach the index unchanged."""
    for prefix in ("000", "001"):
        raw, text = _seed(seeds_dir, prefix)
        for line in raw.splitlines():
            if line.strip():
                assert line.strip() in text


def test_cleaning_is_idempotent(seeds_dir):
    for article in load_paths([seeds_dir]):
        assert clean_text(article.text) == article.text


def test_controls_and_zero_width_removed():
    assert (
        clean_text("Hà\u200b Nội\x07 là thủ đô.\r\n\r\nDòng hai.") == "Hà Nội là thủ đô.\nDòng hai."
    )
