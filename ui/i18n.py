"""The page's words in Vietnamese (the default) and English.

One table, so a label means the same thing wherever it appears and the language switch can
relabel every component from here. Keys are short English names; values are (vi, en).
"""

from __future__ import annotations

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
LANG_CHOICES = [("Tiếng Việt", "vi"), ("English", "en")]

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("Hỏi đáp tin tức", "News Q&A"),
    "subtitle": (
        "Hỏi về các bài báo đã lưu; mỗi câu trả lời dẫn nguồn [n], bấm vào để xem đoạn gốc.",
        "Ask about the stored articles; every answer cites its sources [n]: click one to see "
        "the passage in its article.",
    ),
    "tab_chat": ("Trò chuyện", "Chat"),
    "tab_corpus": ("Kho bài viết", "Articles"),
    "tab_settings": ("Cài đặt", "Settings"),
    "chat_placeholder": (
        "Hỏi bằng tiếng Việt hoặc tiếng Anh, ví dụ bấm một câu hỏi mẫu bên dưới.",
        "Ask in Vietnamese or English, or click an example question below.",
    ),
    "input_placeholder": ("Nhập câu hỏi rồi nhấn Enter…", "Type a question and press Enter…"),
    "send": ("Gửi", "Send"),
    "clear": ("Cuộc trò chuyện mới", "New chat"),
    "searching": ("Đang tìm trong các bài báo…", "Searching the articles…"),
    "rewritten": ("Hiểu câu hỏi là", "Understood as"),
    "citations": ("Nguồn trích dẫn", "Sources"),
    "citations_empty": (
        "Các đoạn được trích dẫn sẽ hiện ở đây.",
        "The cited passages will appear here.",
    ),
    "no_citations": (
        "Không có đoạn nào đủ liên quan để trích dẫn.",
        "No passage was relevant enough to cite.",
    ),
    "source_viewer": ("Bài gốc", "Source article"),
    "source_empty": (
        "Bấm vào một trích dẫn [n] để xem toàn bài, đoạn được trích sẽ được tô sáng.",
        "Click a citation [n] to read the whole article with the cited passage highlighted.",
    ),
    "source_missing": (
        "Bài này không còn trong chỉ mục (có thể đã bị xoá).",
        "This article is no longer in the index (it may have been deleted).",
    ),
    "open_source": ("Xem toàn bài", "Read the article"),
    "also_reported": ("Cũng được đưa tin bởi", "Also reported by"),
    "date": ("Ngày", "Date"),
    "error": ("Lỗi", "Error"),
    # feedback
    "feedback_title": ("Góp ý cho câu trả lời", "Feedback on the answer"),
    "feedback_hint": (
        "Bấm 👍 hoặc 👎 dưới một câu trả lời. Có thể ghi câu trả lời đúng bên dưới.",
        "Click 👍 or 👎 under an answer. You can write the right answer below.",
    ),
    "correction_label": ("Câu trả lời đúng (không bắt buộc)", "Correct answer (optional)"),
    "correction_placeholder": (
        "Nếu câu trả lời sai hoặc thiếu, hãy ghi câu trả lời đúng…",
        "If the answer is wrong or incomplete, write the right one…",
    ),
    "send_correction": ("Gửi góp ý", "Send feedback"),
    "thanks_up": (
        "Cảm ơn! Đã lưu 👍 cho câu trả lời {turn}.",
        "Thanks! Saved 👍 for answer {turn}.",
    ),
    "thanks_down": (
        "Cảm ơn! Đã lưu 👎 cho câu trả lời {turn}. Bạn có thể ghi câu trả lời đúng bên dưới.",
        "Thanks! Saved 👎 for answer {turn}. You can write the right answer below.",
    ),
    "feedback_removed": ("Đã bỏ đánh giá.", "Rating removed."),
    "correction_saved": ("Đã lưu câu trả lời đúng. Cảm ơn!", "Saved your correction. Thank you!"),
    "correction_needs_rating": (
        "Hãy bấm 👍 hoặc 👎 dưới câu trả lời trước khi gửi góp ý.",
        "Rate an answer with 👍 or 👎 before sending a correction.",
    ),
    "correction_empty": ("Hãy nhập câu trả lời đúng.", "Type the correct answer first."),
    # corpus
    "upload_label": (
        "Tải lên bài viết (.txt, .md, .html, .jsonl hoặc .zip)",
        "Upload articles (.txt, .md, .html, .jsonl or a .zip of them)",
    ),
    "ingest": ("Lập chỉ mục", "Index files"),
    "ingest_none": ("Chưa chọn tệp nào.", "No file selected."),
    "ingest_reading": ("Đang đọc {name}", "Reading {name}"),
    "ingest_embedding": (
        "Đang tạo vector và ghi chỉ mục…",
        "Embedding passages and writing the index…",
    ),
    "ingest_added": (
        "Đã thêm {added} bài ({chunks} đoạn).",
        "Added {added} article(s) ({chunks} passages).",
    ),
    "ingest_unchanged": (
        "{n} bài đã có trong chỉ mục: không có gì thay đổi.",
        "{n} article(s) already indexed: nothing to do.",
    ),
    "ingest_nothing": ("Không có bài mới nào được thêm.", "No new article was added."),
    "ingest_skipped": ("Bỏ qua {n} mục:", "Skipped {n} item(s):"),
    "ingest_seconds": ("Thời gian: {s:.1f} giây.", "Took {s:.1f} s."),
    "articles_count": ("{n} bài · {chunks} đoạn", "{n} article(s) · {chunks} passages"),
    "search_articles": ("Tìm bài viết", "Search articles"),
    "search_placeholder": ("Tiêu đề, nguồn hoặc mã bài…", "Title, source or id…"),
    "col_title": ("Tiêu đề", "Title"),
    "col_source": ("Nguồn", "Source"),
    "col_date": ("Ngày", "Date"),
    "col_chunks": ("Số đoạn", "Passages"),
    "col_id": ("Mã", "Id"),
    "selected_none": (
        "Chọn một dòng trong bảng để xem hoặc xoá bài.",
        "Select a row to view or delete an article.",
    ),
    "selected": ("Đã chọn: {title}", "Selected: {title}"),
    "delete": ("Xoá bài đã chọn", "Delete selected article"),
    "deleted": ("Đã xoá «{title}».", "Deleted “{title}”."),
    "delete_missing": ("Không tìm thấy bài để xoá.", "No such article to delete."),
    "refresh": ("Làm mới", "Refresh"),
    # settings
    "settings_title": ("Cài đặt tìm kiếm và trả lời", "Retrieval and answer settings"),
    "retriever": ("Cách tìm", "Retriever"),
    "retriever_info": (
        "hybrid = từ khoá (BM25) + ngữ nghĩa (vector); bm25 = chỉ từ khoá; dense = chỉ vector.",
        "hybrid = keywords (BM25) + meaning (vectors); bm25 = keywords only; dense = vectors only.",
    ),
    "top_k": ("Số đoạn lấy về (top-k)", "Passages retrieved (top-k)"),
    "rerank": ("Xếp hạng lại bằng cross-encoder", "Rerank with a cross-encoder"),
    "rerank_info": (
        "Chính xác hơn nhưng chậm hơn; cần mô hình xếp hạng cài sẵn trên máy.",
        "More precise but slower; needs a reranker model available on this machine.",
    ),
    "rerank_unavailable": (
        "Bộ xếp hạng lại chưa được hỗ trợ bởi phiên bản pipeline này.",
        "Reranking is not supported by this version of the pipeline.",
    ),
    "answer_mode": ("Cách trả lời", "Answer mode"),
    "answer_mode_info": (
        "extractive = trích nguyên câu từ bài báo (không cần mô hình); llm = endpoint tương thích "
        "OpenAI (RAG_LLM_URL).",
        "extractive = quote sentences from the articles (no model needed); llm = an "
        "OpenAI-compatible endpoint (RAG_LLM_URL).",
    ),
    "llm_unconfigured": (
        "Chưa cấu hình endpoint LLM (RAG_LLM_URL): dùng chế độ trích câu.",
        "No LLM endpoint configured (RAG_LLM_URL): using extractive answers.",
    ),
    # status line
    "status_model": ("Mô hình nhúng", "Embedding model"),
    "status_none": ("không có (chỉ BM25)", "none (BM25 only)"),
    "status_index": ("Chỉ mục", "Index"),
    "status_articles": ("{n} bài, {chunks} đoạn", "{n} articles, {chunks} passages"),
    "status_empty": ("chưa có bài nào", "empty"),
    "status_mode": ("Tìm kiếm", "Retrieval"),
    "api_link": ("API", "API"),
    # upload limits
    "upload_bad_type": (
        "{name}: loại tệp {suffix} không được hỗ trợ; hãy dùng .txt, .md, .html, .jsonl hoặc .zip.",
        "{name}: file type {suffix} is not supported; use .txt, .md, .html, .jsonl or .zip.",
    ),
    "upload_too_big": (
        "{name}: {size} MB, vượt giới hạn {limit} MB (đặt RAG_MAX_UPLOAD_MB để đổi).",
        "{name}: {size} MB, over the {limit} MB limit (set RAG_MAX_UPLOAD_MB to change it).",
    ),
}


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
