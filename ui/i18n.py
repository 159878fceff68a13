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
    "delete_confirm": (
        "Xoá «{title}» khỏi chỉ mục?",
        "Delete “{title}” from the index?",
    ),
    "delete_yes": ("Xoá", "Delete"),
    "delete_no": ("Huỷ", "Cancel"),
    "delete_cancelled": ("Đã huỷ, không xoá gì.", "Cancelled: nothing was deleted."),
    "deleted_undo": (
        "Đã xoá «{title}». Có thể hoàn tác trong {s} giây.",
        "Deleted “{title}”. You can undo this for {s} seconds.",
    ),
    "undo": ("Hoàn tác", "Undo"),
    "undone": ("Đã khôi phục «{title}».", "Restored “{title}”."),
    "undo_expired": ("Đã hết thời gian hoàn tác.", "Too late to undo."),
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
    "rerank_no_model": (
        "Không dùng được: không tải được mô hình xếp hạng {model} trên máy này.",
        "Unavailable: the reranker model {model} cannot be loaded on this machine.",
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
    "details": ("Chi tiết", "Details"),
    "warn_fallback": (
        "Đang dùng mô hình dự phòng {model} vì không tải được {wanted}: kết quả tìm theo nghĩa "
        "có thể kém hơn.",
        "Using the fallback model {model} because {wanted} could not be loaded: search by "
        "meaning may be less accurate.",
    ),
    "warn_bm25_only": (
        "Không có mô hình nhúng: chỉ tìm theo từ khoá (BM25).",
        "No embedding model: keyword search (BM25) only.",
    ),
    "warn_other": ("Có cảnh báo từ hệ thống tìm kiếm.", "The search pipeline reported a warning."),
    "warn_rerank_off": (
        "Không tải được mô hình xếp hạng lại: tắt xếp hạng lại.",
        "The reranker model could not be loaded: reranking is off.",
    ),
    # hidden labels (read by screen readers) and the chat bubbles' spoken names
    "language": ("Ngôn ngữ", "Language"),
    "question_label": ("Câu hỏi", "Question"),
    "chat_label": ("Cuộc trò chuyện", "Conversation"),
    "you_said": ("Bạn", "You"),
    "assistant_said": ("Trợ lý", "Assistant"),
    # the chat after a reload
    "restored": ("Đã khôi phục cuộc trò chuyện trước.", "Restored your previous conversation."),
    # Gradio's own words on the page, rewritten in the browser by ui/static/i18n.js
    # (Gradio picks them from the browser's locale, not from the page's language switch).
    "g_drop": ("Thả tệp vào đây", "Drop File Here"),
    "g_or": ("- hoặc -", "- or -"),
    "g_click": ("Bấm để tải lên", "Click to Upload"),
    "g_use_api": ("Dùng qua API", "Use via API"),
    "g_complete": ("Xong", "Done"),
    "g_copy": ("Sao chép", "Copy message"),
    "g_copied": ("Đã sao chép", "Copied message"),
    "g_like": ("Thích", "Like"),
    "g_dislike": ("Không thích", "Dislike"),
    "g_clear": ("Xoá cuộc trò chuyện", "Clear"),
    "g_remove": ("Bỏ tệp", "Remove"),
    "g_loading": ("Đang tải", "Loading"),
    "g_example": ("Câu hỏi mẫu", "Example question"),
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


# Gradio's strings as its frontend writes them (English), keyed like STRINGS: the browser
# script swaps any of the three spellings for the page's language.
GRADIO_ORIGINALS: dict[str, tuple[str, ...]] = {
    "g_drop": ("Drop File Here",),
    "g_or": ("- or -",),
    "g_click": ("Click to Upload",),
    "g_use_api": ("Use via API",),
    "g_complete": ("common.complete",),
    "g_copy": ("Copy message", "Copy"),
    "g_copied": ("Copied message", "Copied"),
    "g_like": ("Like",),
    "g_dislike": ("Dislike",),
    "g_clear": ("Clear",),
    "g_remove": ("Remove", "Remove file"),
    "g_loading": ("Loading...", "Loading"),
    "g_example": ("Select example",),
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
