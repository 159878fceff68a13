"""The page's words in Vietnamese (the default) and English.

One table, STRINGS: each key is defined there once, with its two texts, so a label means the
same thing wherever it appears and the language switch can relabel every component from here.
Keys are short English names. Code names a key one way only, as an attribute of ``K``
(``t(K.send, lang)``): a misspelt key fails where it is written, and tests/ui/test_i18n.py
checks that every ``K.<key>`` in ui/ is in the table and every key of the table is used.
"""

from __future__ import annotations

from typing import NamedTuple

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
LANG_CHOICES = [("Tiếng Việt", "vi"), ("English", "en")]


class Text(NamedTuple):
    """One string of the page in both languages."""

    vi: str
    en: str


STRINGS: dict[str, Text] = {
    "title": Text("Hỏi đáp tin tức", "News Q&A"),
    "subtitle": Text(
        "Hỏi về các bài báo đã lưu; mỗi câu trả lời dẫn nguồn [n], bấm vào để xem đoạn gốc.",
        "Ask about the stored articles; every answer cites its sources [n]: click one to see "
        "the passage in its article.",
    ),
    "tab_chat": Text("Trò chuyện", "Chat"),
    "tab_corpus": Text("Kho bài viết", "Articles"),
    "tab_settings": Text("Cài đặt", "Settings"),
    "chat_placeholder": Text(
        "Hỏi bằng tiếng Việt hoặc tiếng Anh, ví dụ bấm một câu hỏi mẫu bên dưới.",
        "Ask in Vietnamese or English, or click an example question below.",
    ),
    "input_placeholder": Text("Nhập câu hỏi rồi nhấn Enter…", "Type a question and press Enter…"),
    "send": Text("Gửi", "Send"),
    "clear": Text("Cuộc trò chuyện mới", "New chat"),
    "searching": Text("Đang tìm trong các bài báo…", "Searching the articles…"),
    "rewritten": Text("Hiểu câu hỏi là", "Understood as"),
    "citations": Text("Nguồn trích dẫn", "Sources"),
    "citations_empty": Text(
        "Các đoạn được trích dẫn sẽ hiện ở đây.",
        "The cited passages will appear here.",
    ),
    "no_citations": Text(
        "Không có đoạn nào đủ liên quan để trích dẫn.",
        "No passage was relevant enough to cite.",
    ),
    "source_viewer": Text("Bài gốc", "Source article"),
    "source_empty": Text(
        "Bấm vào một trích dẫn [n] để xem toàn bài, đoạn được trích sẽ được tô sáng.",
        "Click a citation [n] to read the whole article with the cited passage highlighted.",
    ),
    "source_missing": Text(
        "Bài này không còn trong chỉ mục (có thể đã bị xoá).",
        "This article is no longer in the index (it may have been deleted).",
    ),
    "open_source": Text("Xem toàn bài", "Read the article"),
    "also_reported": Text("Cũng được đưa tin bởi", "Also reported by"),
    "error": Text("Lỗi", "Error"),
    # source filters (under the question box)
    "filter_title": Text("Lọc nguồn", "Filter sources"),
    "filter_site": Text("Chỉ trích dẫn báo", "Cite only this outlet"),
    "filter_all_sites": Text("Tất cả các báo", "All outlets"),
    "filter_from": Text("Đăng từ ngày", "Published from"),
    "filter_to": Text("Đến ngày", "Published until"),
    "filter_date_placeholder": Text("vd. 18/6/2024", "e.g. 2024-06-18"),
    "filter_clear": Text("Bỏ lọc", "Clear filters"),
    "filter_bad_date": Text(
        "«{text}» không phải là ngày: hãy viết 2024-06-18 hoặc 18/6/2024.",
        "“{text}” is not a date: write 2024-06-18 or 18/6/2024.",
    ),
    "filter_reversed": Text(
        "Ngày bắt đầu ({start}) sau ngày kết thúc ({end}).",
        "The start date ({start}) is after the end date ({end}).",
    ),
    "filter_active": Text(
        "Chỉ trích dẫn bài {what}: {n} bài phù hợp.",
        "Citing only articles {what}: {n} match.",
    ),
    "filter_of_site": Text("của {site}", "of {site}"),
    "filter_since": Text("đăng từ {date}", "published from {date}"),
    "filter_until": Text("đăng đến {date}", "published until {date}"),
    "filter_between": Text("đăng từ {start} đến {end}", "published from {start} to {end}"),
    # feedback
    "feedback_title": Text("Góp ý cho câu trả lời", "Feedback on the answer"),
    "feedback_hint": Text(
        "Bấm 👍 hoặc 👎 dưới một câu trả lời. Có thể ghi câu trả lời đúng bên dưới.",
        "Click 👍 or 👎 under an answer. You can write the right answer below.",
    ),
    "correction_label": Text("Câu trả lời đúng (không bắt buộc)", "Correct answer (optional)"),
    "correction_placeholder": Text(
        "Nếu câu trả lời sai hoặc thiếu, hãy ghi câu trả lời đúng…",
        "If the answer is wrong or incomplete, write the right one…",
    ),
    "send_correction": Text("Gửi góp ý", "Send feedback"),
    "thanks_up": Text(
        "Cảm ơn! Đã lưu 👍 cho câu trả lời {turn}.",
        "Thanks! Saved 👍 for answer {turn}.",
    ),
    "thanks_down": Text(
        "Cảm ơn! Đã lưu 👎 cho câu trả lời {turn}. Bạn có thể ghi câu trả lời đúng bên dưới.",
        "Thanks! Saved 👎 for answer {turn}. You can write the right answer below.",
    ),
    "feedback_removed": Text("Đã bỏ đánh giá.", "Rating removed."),
    "correction_saved": Text(
        "Đã lưu câu trả lời đúng. Cảm ơn!", "Saved your correction. Thank you!"
    ),
    "correction_needs_rating": Text(
        "Hãy bấm 👍 hoặc 👎 dưới câu trả lời trước khi gửi góp ý.",
        "Rate an answer with 👍 or 👎 before sending a correction.",
    ),
    "correction_empty": Text("Hãy nhập câu trả lời đúng.", "Type the correct answer first."),
    # corpus
    "upload_label": Text(
        "Tải lên bài viết (.txt, .md, .html, .jsonl hoặc .zip)",
        "Upload articles (.txt, .md, .html, .jsonl or a .zip of them)",
    ),
    "ingest": Text("Lập chỉ mục", "Index files"),
    "ingest_none": Text("Chưa chọn tệp nào.", "No file selected."),
    "ingest_reading": Text("Đang đọc {name}", "Reading {name}"),
    "ingest_embedding": Text(
        "Đang tạo vector và ghi chỉ mục…",
        "Embedding passages and writing the index…",
    ),
    "ingest_added": Text(
        "Đã thêm {added} bài ({chunks} đoạn).",
        "Added {added} article(s) ({chunks} passages).",
    ),
    "ingest_unchanged": Text(
        "{n} bài đã có trong chỉ mục: không có gì thay đổi.",
        "{n} article(s) already indexed: nothing to do.",
    ),
    "ingest_nothing": Text("Không có bài mới nào được thêm.", "No new article was added."),
    "ingest_skipped": Text("Bỏ qua {n} mục:", "Skipped {n} item(s):"),
    "ingest_seconds": Text("Thời gian: {s:.1f} giây.", "Took {s:.1f} s."),
    "articles_count": Text("{n} bài · {chunks} đoạn", "{n} article(s) · {chunks} passages"),
    "search_articles": Text("Tìm bài viết", "Search articles"),
    "search_placeholder": Text(
        "Tiêu đề, báo, tác giả, nguồn hoặc mã bài…", "Title, outlet, author, source or id…"
    ),
    "col_title": Text("Tiêu đề", "Title"),
    "col_site": Text("Báo", "Outlet"),
    "col_source": Text("Nguồn", "Source"),
    "col_date": Text("Ngày", "Date"),
    "col_chunks": Text("Số đoạn", "Passages"),
    "col_id": Text("Mã", "Id"),
    "selected_none": Text(
        "Chọn một dòng trong bảng để xem hoặc xoá bài.",
        "Select a row to view or delete an article.",
    ),
    "selected": Text("Đã chọn: {title}", "Selected: {title}"),
    "delete": Text("Xoá bài đã chọn", "Delete selected article"),
    "delete_missing": Text("Không tìm thấy bài để xoá.", "No such article to delete."),
    "delete_confirm": Text(
        "Xoá «{title}» khỏi chỉ mục?",
        "Delete “{title}” from the index?",
    ),
    "delete_yes": Text("Xoá", "Delete"),
    "delete_no": Text("Huỷ", "Cancel"),
    "delete_cancelled": Text("Đã huỷ, không xoá gì.", "Cancelled: nothing was deleted."),
    "deleted_undo": Text(
        "Đã xoá «{title}». Có thể hoàn tác trong {s} giây.",
        "Deleted “{title}”. You can undo this for {s} seconds.",
    ),
    "undo": Text("Hoàn tác", "Undo"),
    "undone": Text("Đã khôi phục «{title}».", "Restored “{title}”."),
    "undo_expired": Text("Đã hết thời gian hoàn tác.", "Too late to undo."),
    "refresh": Text("Làm mới", "Refresh"),
    "sort_label": Text("Sắp xếp", "Sort"),
    "sort_newest": Text("Ngày đăng: mới nhất trước", "Date: newest first"),
    "sort_oldest": Text("Ngày đăng: cũ nhất trước", "Date: oldest first"),
    "sort_added": Text("Mới thêm vào trước", "Recently added first"),
    # settings
    "settings_title": Text("Cài đặt tìm kiếm và trả lời", "Retrieval and answer settings"),
    "retriever": Text("Cách tìm", "Retriever"),
    "retriever_info": Text(
        "hybrid = từ khoá (BM25) + ngữ nghĩa (vector); bm25 = chỉ từ khoá; dense = chỉ vector.",
        "hybrid = keywords (BM25) + meaning (vectors); bm25 = keywords only; dense = vectors only.",
    ),
    "top_k": Text("Số đoạn lấy về (top-k)", "Passages retrieved (top-k)"),
    "rerank": Text("Xếp hạng lại bằng cross-encoder", "Rerank with a cross-encoder"),
    "rerank_info": Text(
        "Chính xác hơn nhưng chậm hơn; cần mô hình xếp hạng cài sẵn trên máy.",
        "More precise but slower; needs a reranker model available on this machine.",
    ),
    "rerank_no_model": Text(
        "Không dùng được: không tải được mô hình xếp hạng {model} trên máy này.",
        "Unavailable: the reranker model {model} cannot be loaded on this machine.",
    ),
    "answer_mode": Text("Cách trả lời", "Answer mode"),
    "answer_mode_info": Text(
        "extractive = trích nguyên câu từ bài báo (không cần mô hình); llm = endpoint tương thích "
        "OpenAI (RAG_LLM_URL).",
        "extractive = quote sentences from the articles (no model needed); llm = an "
        "OpenAI-compatible endpoint (RAG_LLM_URL).",
    ),
    "llm_unconfigured": Text(
        "Chưa cấu hình endpoint LLM (RAG_LLM_URL): dùng chế độ trích câu.",
        "No LLM endpoint configured (RAG_LLM_URL): using extractive answers.",
    ),
    # status line
    "status_model": Text("Mô hình nhúng", "Embedding model"),
    "status_none": Text("không có (chỉ BM25)", "none (BM25 only)"),
    "status_index": Text("Chỉ mục", "Index"),
    "status_articles": Text("{n} bài, {chunks} đoạn", "{n} articles, {chunks} passages"),
    "status_empty": Text("chưa có bài nào", "empty"),
    "status_mode": Text("Tìm kiếm", "Retrieval"),
    "api_link": Text("API", "API"),
    "details": Text("Chi tiết", "Details"),
    "warn_fallback": Text(
        "Đang dùng mô hình dự phòng {model} vì không tải được {wanted}: kết quả tìm theo nghĩa "
        "có thể kém hơn.",
        "Using the fallback model {model} because {wanted} could not be loaded: search by "
        "meaning may be less accurate.",
    ),
    "warn_bm25_only": Text(
        "Không có mô hình nhúng: chỉ tìm theo từ khoá (BM25).",
        "No embedding model: keyword search (BM25) only.",
    ),
    "warn_other": Text(
        "Có cảnh báo từ hệ thống tìm kiếm.", "The search pipeline reported a warning."
    ),
    "warn_rerank_off": Text(
        "Không tải được mô hình xếp hạng lại: tắt xếp hạng lại.",
        "The reranker model could not be loaded: reranking is off.",
    ),
    # hidden labels (read by screen readers) and the chat bubbles' spoken names
    "language": Text("Ngôn ngữ", "Language"),
    "question_label": Text("Câu hỏi", "Question"),
    "chat_label": Text("Cuộc trò chuyện", "Conversation"),
    "you_said": Text("Bạn", "You"),
    "assistant_said": Text("Trợ lý", "Assistant"),
    # Gradio's own words on the page, rewritten in the browser by ui/static/i18n.js
    # (Gradio picks them from the browser's locale, not from the page's language switch).
    "g_drop": Text("Thả tệp vào đây", "Drop File Here"),
    "g_or": Text("- hoặc -", "- or -"),
    "g_click": Text("Bấm để tải lên", "Click to Upload"),
    "g_use_api": Text("Dùng qua API", "Use via API"),
    "g_complete": Text("Xong", "Done"),
    "g_copy": Text("Sao chép", "Copy message"),
    "g_copied": Text("Đã sao chép", "Copied message"),
    "g_like": Text("Thích", "Like"),
    "g_dislike": Text("Không thích", "Dislike"),
    "g_clear": Text("Xoá cuộc trò chuyện", "Clear"),
    "g_remove": Text("Bỏ tệp", "Remove"),
    "g_loading": Text("Đang tải", "Loading"),
    "g_example": Text("Câu hỏi mẫu", "Example question"),
    # upload limits
    "upload_bad_type": Text(
        "{name}: loại tệp {suffix} không được hỗ trợ; hãy dùng .txt, .md, .html, .jsonl hoặc .zip.",
        "{name}: file type {suffix} is not supported; use .txt, .md, .html, .jsonl or .zip.",
    ),
    "upload_too_big": Text(
        "{name}: {size} MB, vượt giới hạn {limit} MB (đặt RAG_MAX_UPLOAD_MB để đổi).",
        "{name}: {size} MB, over the {limit} MB limit (set RAG_MAX_UPLOAD_MB to change it).",
    ),
}


class _Keys:
    """The keys of STRINGS as attributes: ``K.send == "send"``; a key not in the table raises
    AttributeError."""

    __slots__ = ()

    def __getattr__(self, name: str) -> str:
        if name in STRINGS:
            return name
        raise AttributeError(f"no UI string {name!r} in ui/i18n.py")

    def __dir__(self) -> list[str]:
        return list(STRINGS)


K = _Keys()


# Gradio's strings as its frontend writes them (English), for the table's g_* keys: the
# browser script swaps any of these spellings, or our vi or en one, for the page's language.
GRADIO_ORIGINALS: dict[str, tuple[str, ...]] = {
    K.g_drop: ("Drop File Here",),
    K.g_or: ("- or -",),
    K.g_click: ("Click to Upload",),
    K.g_use_api: ("Use via API",),
    K.g_complete: ("common.complete",),
    K.g_copy: ("Copy message", "Copy"),
    K.g_copied: ("Copied message", "Copied"),
    K.g_like: ("Like",),
    K.g_dislike: ("Dislike",),
    K.g_clear: ("Clear",),
    K.g_remove: ("Remove", "Remove file"),
    K.g_loading: ("Loading...", "Loading"),
    K.g_example: ("Select example",),
}


def gradio_words(lang: str) -> dict[str, str]:
    """Every spelling of Gradio's strings (its own English, our vi and en) -> ``lang``'s."""
    out: dict[str, str] = {}
    for key, originals in GRADIO_ORIGINALS.items():
        for spelling in (*originals, *STRINGS[key]):
            out[spelling] = t(key, lang)
    return out


def t(key: str, lang: str = DEFAULT_LANG, **kwargs: object) -> str:
    """The string for ``key`` in ``lang`` (Vietnamese for an unknown language)."""
    vi, en = STRINGS[key]
    text = en if lang == "en" else vi
    return text.format(**kwargs) if kwargs else text


EXAMPLES = [
    "Hiệp ước mới thay thế những văn kiện nào?",
    "Tổng thống Putin tặng Chủ tịch Kim Jong Un món quà gì?",
    "Hiệp ước có điều khoản phòng thủ chung không?",
    "Which agreements does the new treaty replace?",
]
