"""The evaluation question set: JSONL → EvalQuestion, with gold papers resolved against the catalog.

Schema (documented in eval/QUESTIONS.md): `question`, `kind`, gold papers as `gold_paper_ids` and/or
`gold_titles`, optional `id`, `reference_answer`, `must_contain`, `history`, `notes`. Every problem in the
file is collected and reported in one DatasetError (file:line for each), so a file can be fixed in one pass.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.catalog import Catalog, fold
from rag.errors import DatasetError
from rag.types import Turn

DEFAULT_DATASET = Path(__file__).resolve().parent / "questions.jsonl"
KINDS = ("topic", "fact", "metadata", "count", "follow_up", "unanswerable")
FIELDS = ("id", "question", "kind", "gold_paper_ids", "gold_titles", "reference_answer", "must_contain",
          "history", "notes")
ROLES = ("user", "assistant")
MAX_LISTED = 25  # problems shown in one error; the rest are counted


@dataclass
class EvalQuestion:
    id: str
    question: str
    kind: str
    gold_ids: list[str]  # resolved paper ids (from gold_paper_ids and gold_titles, deduplicated)
    gold_titles: list[str]  # the titles of gold_ids, same order
    reference_answer: str | None = None
    must_contain: list[str] = field(default_factory=list)
    history: list[Turn] = field(default_factory=list)
    line: int = 0  # 1-based line in the dataset file
    source: str = ""  # the dataset file

    @property
    def answerable(self) -> bool:
        return bool(self.gold_ids)


def load_dataset(path: Path, catalog: Catalog) -> list[EvalQuestion]:
    """Read and validate a JSONL question set; raise DatasetError naming every problem with file:line."""
    path = Path(path)
    text = _read(path)
    problems: list[str] = []
    unknown_gold: list[str] = []
    questions: list[EvalQuestion] = []
    seen_ids: dict[str, int] = {}
    by_title = {p.title: p for p in catalog.papers}
    by_folded = {_norm(p.title): p for p in catalog.papers}
    n_records = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue  # blank lines are allowed between records
        n_records += 1
        where = f"{path}:{n}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected a JSON object {{\"question\": …, \"kind\": …}}, "
                            f"got {type(obj).__name__}")
            continue
        line_problems = _check_fields(obj)
        if line_problems:
            problems.extend(f"{where}: {p}" for p in line_problems)
            continue
        qid = obj.get("id") or f"line{n}"
        if qid in seen_ids:
            problems.append(f"{where}: duplicate id {qid!r} (also on line {seen_ids[qid]})")
            continue
        seen_ids[qid] = n
        gold: dict[str, str] = {}  # paper_id → title, in file order
        for pid in obj.get("gold_paper_ids", []):
            paper = catalog.get(pid)
            if paper is None:
                unknown_gold.append(f"{where}: gold_paper_ids {pid!r} is no paper id{_suggest(pid, catalog.by_id)}")
            else:
                gold[paper.paper_id] = paper.title
        for title in obj.get("gold_titles", []):
            paper = by_title.get(title) or by_folded.get(_norm(title))
            if paper is None:
                unknown_gold.append(f"{where}: gold_titles {title!r} matches no paper{_suggest(title, by_title)}")
            else:
                gold[paper.paper_id] = paper.title
        kind = obj["kind"]
        if kind == "unanswerable" and (obj.get("gold_paper_ids") or obj.get("gold_titles")):
            problems.append(f"{where}: kind \"unanswerable\" must have no gold papers (got "
                            f"{len(obj.get('gold_paper_ids', [])) + len(obj.get('gold_titles', []))})")
            continue
        if kind != "unanswerable" and not (obj.get("gold_paper_ids") or obj.get("gold_titles")):
            problems.append(f"{where}: kind {kind!r} needs gold papers in \"gold_titles\" or \"gold_paper_ids\" "
                            "(use kind \"unanswerable\" for questions no paper answers)")
            continue
        if kind == "follow_up" and not obj.get("history"):
            problems.append(f"{where}: kind \"follow_up\" needs a \"history\" of earlier turns")
            continue
        questions.append(EvalQuestion(
            id=qid, question=obj["question"].strip(), kind=kind, gold_ids=list(gold), gold_titles=list(gold.values()),
            reference_answer=obj.get("reference_answer") or None, must_contain=list(obj.get("must_contain", [])),
            history=[Turn(t["role"], t["content"]) for t in obj.get("history", [])], line=n, source=str(path),
        ))
    if n_records == 0:
        raise DatasetError(f"{path} is empty: it must hold one JSON object per line, e.g. "
                           '{"question": "What is EISAM?", "kind": "fact", "gold_titles": ["…exact title…"]}. '
                           "See eval/QUESTIONS.md.")
    if unknown_gold:
        problems.append(f"{len(unknown_gold)} gold paper(s) match no paper in the index "
                        f"({len(catalog)} papers; `labqa papers` lists the exact titles):")
        problems.extend(f"  {u}" for u in unknown_gold)
    if problems:
        shown = problems[:MAX_LISTED]
        more = f"\n  … and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise DatasetError(f"The evaluation dataset {path} has problems (schema: eval/QUESTIONS.md):\n"
                           + "\n".join(f"  {p}" for p in shown) + more)
    return questions


def _read(path: Path) -> str:
    if not path.exists():
        raise DatasetError(f"No evaluation dataset at {path}. Pass an existing JSONL file with --dataset "
                           f"(the default is {DEFAULT_DATASET}).")
    if path.is_dir():
        raise DatasetError(f"{path} is a folder; --dataset needs a JSONL file.")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}:{line}: not UTF-8 text. Save the file as UTF-8.") from None
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror}.") from None


def _check_fields(obj: dict[str, Any]) -> list[str]:
    """Type problems of one record, each a short phrase (the caller adds file:line)."""
    out: list[str] = []
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        out.append(f"unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(FIELDS)}")
    q = obj.get("question")
    if "question" not in obj:
        out.append("missing \"question\"")
    elif not isinstance(q, str) or not q.strip():
        out.append("\"question\" must be a non-empty string")
    else:
        from rag.assistant import clean_question  # the run's own check: what it would reject, rejected here
        from rag.errors import QuestionError

        try:
            clean_question(q)
        except QuestionError as exc:
            out.append(f"\"question\" would be rejected by the assistant: {exc}")
    kind = obj.get("kind")
    if "kind" not in obj:
        out.append(f"missing \"kind\" (one of {', '.join(KINDS)})")
    elif kind not in KINDS:
        out.append(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    if "id" in obj and (not isinstance(obj["id"], str) or not obj["id"].strip()):
        out.append("\"id\" must be a non-empty string")
    for name in ("gold_paper_ids", "gold_titles", "must_contain"):
        if name in obj and not _str_list(obj[name]):
            out.append(f"{name!r} must be a list of non-empty strings")
    if "reference_answer" in obj and not isinstance(obj["reference_answer"], str):
        out.append("\"reference_answer\" must be a string")
    if "notes" in obj and not isinstance(obj["notes"], str):
        out.append("\"notes\" must be a string")
    if "history" in obj:
        h = obj["history"]
        if not isinstance(h, list) or not all(
                isinstance(t, dict) and set(t) == {"role", "content"} and t["role"] in ROLES
                and isinstance(t["content"], str) for t in h):
            out.append("\"history\" must be a list of {\"role\": \"user\"|\"assistant\", \"content\": string}")
    return out


def _str_list(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)


def _norm(title: str) -> str:
    """Exact titles are expected; this forgives only case, accents and spacing."""
    return " ".join(fold(title).split())


def _suggest(name: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
