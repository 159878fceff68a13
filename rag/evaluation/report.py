"""The outputs of an evaluation: the table printed by `rag eval`, results.json (all figures and
every question), report.md (the table, per-language and per-kind figures, the failures) and
recall.png (Recall@k curves of the runs)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from rag.evaluation.results import RETRIEVAL_DEPTH, EvalResult

SCHEMA = "rag-eval/1"

_TABLE = (
    ("R@1", "recall@1", "{:.3f}"),
    ("R@5", "recall@5", "{:.3f}"),
    ("R@10", "recall@10", "{:.3f}"),
    ("MRR@10", "mrr@10", "{:.3f}"),
    ("nDCG@10", "ndcg@10", "{:.3f}"),
    ("hit", "answer_hit", "{:.3f}"),
    ("F1", "token_f1", "{:.3f}"),
    ("cite-P", "citation_precision", "{:.3f}"),
    ("abstain", "abstention_accuracy", "{:.3f}"),
    ("p50 ms", "ask_p50_ms", "{:.1f}"),
    ("p95 ms", "ask_p95_ms", "{:.1f}"),
)


def format_table(results: Sequence[EvalResult], markdown: bool = False) -> str:
    header = ["run", *(h for h, _, _ in _TABLE)]
    rows = [
        [
            r.run,
            *("-" if r.metrics[k] is None else fmt.format(r.metrics[k]) for _, k, fmt in _TABLE),
        ]
        for r in results
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    fmt_row = lambda row: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(row, widths, strict=True))
    )
    return "\n".join([fmt_row(header), *(fmt_row(row) for row in rows)])


def results_json(results: Sequence[EvalResult], command: str | None = None) -> dict:
    first = results[0]
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "dataset": {
            "name": first.dataset,
            "description": first.description,
            "questions": first.metrics["questions"],
            "answerable": first.metrics["answerable"],
            "unanswerable": first.metrics["unanswerable"],
        },
        "runs": [r.to_dict() for r in results],
    }


def write_report(
    results: Sequence[EvalResult],
    out_dir: Path,
    *,
    command: str | None = None,
    max_failures: int = 100,
) -> dict[str, Path]:
    """Write results.json (all figures and every question), report.md (the table, per-kind
    figures and the failures) and recall.png (Recall@k curves of the runs) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "results.json",
        "markdown": out_dir / "report.md",
        "plot": out_dir / "recall.png",
    }
    paths["json"].write_text(
        json.dumps(results_json(results, command), ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    paths["markdown"].write_text(markdown_report(results, command, max_failures), encoding="utf-8")
    plot_recall(results, paths["plot"])
    return paths


def markdown_report(results: Sequence[EvalResult], command: str | None, max_failures: int) -> str:
    first = results[0]
    lines = [
        f"# Evaluation: {first.dataset}",
        "",
        f"{first.description}. Created {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    model = first.model
    lines.append(
        f"Embedding model configured: `{model['configured']}`; in use: "
        f"`{model['in_use'] or 'none (BM25 only)'}`. Index: {first.index['articles']} articles, "
        f"{first.index['chunks']} passages (chunk size {first.index['chunk_size']}, overlap "
        f"{first.index['chunk_overlap']}). Answers read the top {first.top_k} passages."
    )
    if model.get("warning"):
        lines += ["", f"> {model['warning']}"]
    for r in results:
        if r.modes_used and list(r.modes_used) != [r.retriever]:
            lines += [
                "",
                f"> run `{r.run}` asked for {r.retriever} but used {', '.join(r.modes_used)}",
            ]
    lines += ["", "## Figures", "", format_table(results, markdown=True), ""]
    lines += [
        "R@k: share of answerable questions with a relevant passage in the top k (a passage of a",
        "gold article containing an accepted answer); answer hit: an accepted answer appears in",
        'the answer; abstain: share of unanswerable questions answered "not found"; latency:',
        "per `ask`, after a warm-up query.",
        "",
        "![Recall@k](recall.png)",
        "",
    ]
    for group, title in (("by_lang", "language"), ("by_kind", "kind of question")):
        names = sorted({g for r in results for g in r.metrics[group]})
        if len(names) < 2:
            continue
        lines += [f"### By {title} (answer hit / R@5)", ""]
        lines.append("| " + " | ".join([title, "n", *(r.run for r in results)]) + " |")
        lines.append("|" + "---|" * (len(results) + 2))
        for g in names:
            n = next(r.metrics[group][g]["n"] for r in results if g in r.metrics[group])
            cells = []
            for r in results:
                m = r.metrics[group].get(g)
                cells.append("-" if m is None else f"{_f(m['answer_hit'])} / {_f(m['recall@5'])}")
            lines.append("| " + " | ".join([g, str(n), *cells]) + " |")
        lines.append("")
    lines += ["## Failures", ""]
    for r in results:
        failed = [q for q in r.questions if q.failed]
        lines += [f"### {r.run}: {len(failed)} of {len(r.questions)} questions", ""]
        for q in failed[:max_failures]:
            it = q.item
            expected = " | ".join(it.answers) if it.answerable else "(not in the corpus: abstain)"
            rank = next((i + 1 for i, p in enumerate(q.retrieved) if p.relevant), None)
            lines.append(f"- **{it.id}** {it.question}")
            lines.append(f"  - expected: {expected}")
            lines.append(f"  - got: {_one_line(q.answer)}")
            cited = ", ".join(
                f"[{c.n}] {_one_line(c.title, 60)}{'' if c.good else ' (off)'}" for c in q.cited
            )
            lines.append(f"  - cited: {cited or '(none)'}")
            if it.answerable:
                lines.append(
                    f"  - first relevant passage at rank: {rank or f'> {RETRIEVAL_DEPTH}'}"
                )
        if len(failed) > max_failures:
            lines.append(f"- ... and {len(failed) - max_failures} more in results.json")
        lines.append("")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_recall(results: Sequence[EvalResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    ks = list(range(1, RETRIEVAL_DEPTH + 1))
    for r in results:
        curve = r.metrics["recall_curve"]
        if curve:
            ax.plot(ks, curve, marker="o", markersize=3, label=r.run)
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("Recall@k")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"Recall@k on {results[0].dataset}")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
