"""`labqa` — ingest, papers, ask, serve, eval. Heavy modules are imported inside the commands that need
them, so `labqa --help` and `labqa papers` start fast."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from rag.errors import LabQAError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run() -> None:
    """The `labqa` console command. Process-wide settings belong here, not in main(): tests and scripts call
    main() in their own process, and a SIGPIPE reset there would let any later write to a closed socket kill
    that process."""
    if hasattr(signal, "SIGPIPE"):  # `labqa papers | head` should end quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labqa", description="Ask questions about a research group's papers.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add and update the papers of the sources in the index",
                       description="Adds and updates the papers of PATHs. Papers from other files stay; a paper "
                       "leaves the index only when its file no longer holds it (or with --prune).")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: LABQA_DATA_DIR, data/)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--skip-invalid", action="store_true",
                   help="ingest the good records, list the bad ones (a bad record keeps its previous version)")
    p.add_argument("--prune", action="store_true",
                   help="also remove every paper whose source is not among PATHs (lists what it removes)")
    p.add_argument("--dry-run", action="store_true", help="say what would be added, updated and removed; write nothing")
    p.add_argument("--no-wait", action="store_true",
                   help="fail at once if another ingest is writing the index (default: wait, LABQA_INGEST_WAIT s)")

    p = sub.add_parser("index", help="list or drop the stored indexes (one per embedding/chunking settings)")
    isub = p.add_subparsers(dest="index_command", required=True)
    q = isub.add_parser("list", help="the indexes in the store: settings, papers, size, last ingest")
    q.add_argument("--json", action="store_true", help="print a JSON array")
    q = isub.add_parser("drop", help="delete one index (NAME from `labqa index list`)")
    q.add_argument("name")

    p = sub.add_parser("papers", help="print the catalog")
    p.add_argument("--json", action="store_true", help="print a JSON array of papers")
    p.add_argument("--bibtex", nargs="?", const="", default=None, metavar="FILTER",
                   help="print BibTeX entries; FILTER keeps papers matching every word (title, author, year, "
                        "category, keyword, DOI, arXiv id)")

    p = sub.add_parser("ask", help="answer a question with cited papers")
    p.add_argument("question", help="the question, or - to read one question per line from stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.add_argument("--offline", action="store_true", help="use the offline answerer even if an LLM is configured")

    p = sub.add_parser("serve", help="start the chat UI")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)

    p = sub.add_parser("eval", help="run the evaluation set and report metrics")
    p.add_argument("--dataset", action="append", default=None, metavar="FILE|dev|test|regression",
                   help="question set (JSONL file or split name); repeatable; default: dev, test, test2 and regression, "
                   "each reported separately")
    p.add_argument("--k", type=int, default=5, help="cut-off for hit@k, recall@k, nDCG@k")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--out", type=Path, default=None, help="folder for report.md, results.json and chart.png")
    p.add_argument("--variants", default="dense,bm25,hybrid,hybrid+metadata",
                   help="comma-separated ablation variants")
    p.add_argument("--offline", action="store_true", help="score the offline answerer even if an LLM is configured")
    p.add_argument("--min", action="append", default=[], metavar="METRIC=VALUE",
                   help="fail (exit 1) when an overall metric is below VALUE; repeatable")

    args, extra = parser.parse_known_args(argv)
    if args.command == "eval":
        # --min-METRIC VALUE options, e.g. --min-hit@5 0.97 --min-mrr 0.9
        it = iter(extra)
        for tok in it:
            if tok.startswith("--min-"):
                value = tok.split("=", 1)[1] if "=" in tok else next(it, None)
                if value is None:
                    parser.error(f"{tok} needs a value")
                args.min.append(f"{tok[6:].split('=', 1)[0]}={value}")
            else:
                parser.error(f"unrecognized arguments: {tok}")
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    try:
        from rag.settings import load_settings

        settings = load_settings()
        return COMMANDS[args.command](settings, args)
    except LabQAError as exc:
        print(f"labqa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labqa: interrupted", file=sys.stderr)
        return 130


def cmd_ingest(settings, args) -> int:  # type: ignore[no-untyped-def]
    from ingest.pipeline import ingest

    def say(message: str) -> None:
        print(f"labqa: {message}", file=sys.stderr, flush=True)

    bar = ProgressDisplay("indexing", "papers")
    try:
        report = ingest(settings, args.paths or None, skip_invalid=args.skip_invalid, progress=bar.update,
                        prune=args.prune, dry_run=args.dry_run, wait=0 if args.no_wait else None, say=say)
    finally:
        bar.close()
    if args.json:
        d = report.to_dict()
        d["seconds"] = round(d["seconds"], 3)
        print(json.dumps(d))
    else:
        would = "would be " if report.dry_run else ""
        print(f"{report.papers} papers in the index{' after this ingest' if report.dry_run else ''} "
              f"({report.records} records read from {report.files} file(s), {report.merged} merged as other versions)")
        print(f"papers: {report.papers_added} {would}added, {report.papers_updated} {would}updated, "
              f"{len(report.removed)} {would}removed")
        for r in report.removed:
            print(f"  - {would}removed: {r.title} ({', '.join(r.sources)})")
        if not report.dry_run:
            print(f"chunks: {report.chunks_added} added, {report.chunks_updated} updated, "
                  f"{report.chunks_unchanged} unchanged, {report.chunks_removed} removed "
                  f"({report.chunks_embedded} embedded)")
        print(f"{report.seconds:.2f} s; index at {settings.chroma_url or settings.home / 'chroma'}"
              + (" (dry run: nothing was written)" if report.dry_run else ""))
    if report.skipped:
        print(f"skipped {len(report.skipped)} bad record(s):", file=sys.stderr)
        for s in report.skipped:
            print(f"  - {s}", file=sys.stderr)
    if report.kept_previous:
        print(f"kept the previous version of {len(report.kept_previous)} record(s) whose new version is bad: "
              + ", ".join(report.kept_previous), file=sys.stderr)
    return 0


def cmd_index(settings, args) -> int:  # type: ignore[no-untyped-def]
    from ingest import lock
    from rag import store
    from rag.indexes import drop_index, list_indexes

    client = store.open_client(settings)
    current = store.fingerprint(settings)
    try:
        if args.index_command == "drop":
            with lock.writer(settings, "index drop", on_wait=lambda m: print(f"labqa: {m}", file=sys.stderr)):
                info = drop_index(client, args.name)
            note = " (the index of the current settings: `labqa ingest` builds it again)" if info.name == current else ""
            print(f"dropped index {info.name}: {store.describe_spec(info.spec)}, {info.papers} papers, "
                  f"{info.chunks} chunks{note}")
            return 0
        infos = list_indexes(client, current)
    except LabQAError:
        raise
    except Exception as exc:
        raise store.store_error(exc, settings) from exc
    if args.json:
        print(json.dumps([i.to_dict() for i in infos]))
        return 0
    if not infos:
        print(f"No indexes at {store.where(settings)}. Build one with `labqa ingest`.")
        return 0
    print(f"{'':2}{'name':<11} {'papers':>6} {'chunks':>7} {'vectors':>8}  {'last ingest':<23} settings")
    for i in infos:
        mark = "* " if i.current else "  "
        print(f"{mark}{i.name:<11} {i.papers:>6} {i.chunks:>7} {i.vector_mb:>6.1f}MB  {i.last_ingest or '?':<23} "
              f"{store.describe_spec(i.spec)}")
    if not any(i.current for i in infos):
        print(f"No index for the current settings ({current}) yet: `labqa ingest` builds it.")
    else:
        print("* the index of the current settings (used by ask, serve, eval)")
    return 0


class ProgressDisplay:
    """A tqdm bar on a terminal; in logs (CI, pipes) a line every few seconds with the rate and ETA."""

    def __init__(self, desc: str, unit: str, every: float = 5.0) -> None:
        self.desc, self.unit, self.every = desc, unit, every
        self.bar = None
        self.start = self.last = 0.0
        self.shown = False

    def update(self, done: int, total: int) -> None:
        import time

        if total == 0:
            return
        now = time.monotonic()
        if not self.start:
            self.start = self.last = now
        if sys.stderr.isatty():
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr)
            self.bar.update(done - self.bar.n)
        elif done == total or now - self.last >= self.every or (done and not self.shown):
            self.shown = True  # the first batch gives an early rate and ETA
            self.last = now
            rate = done / (now - self.start) if now > self.start else 0.0
            eta = f", ETA {(total - done) / rate:.0f} s" if rate and done < total else ""
            print(f"{self.desc}: {done}/{total} {self.unit} ({rate:.1f} {self.unit}/s{eta})", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_papers(settings, args) -> int:  # type: ignore[no-untyped-def]
    from rag.store import load_catalog

    papers = load_catalog(settings)
    if args.bibtex is not None:
        from rag.bibtex_out import select, to_bibtex

        chosen = select(papers, args.bibtex)
        if not chosen:
            print(f"labqa: no paper matches {args.bibtex!r}", file=sys.stderr)
            return 1
        sys.stdout.write(to_bibtex(chosen))
        return 0
    if args.json:
        print(json.dumps([p.to_dict() for p in papers], ensure_ascii=False, indent=1))
        return 0
    print(f"{'year':<5} {'cat':<6} {'code':<4}  title — authors")
    for p in papers:
        year = f"{p.year}{'*' if p.year_inferred else ''}" if p.year else "?"
        flag = "yes" if p.has_code else ""
        derived = " (title derived)" if p.title_source == "derived" else ""
        print(f"{year:<5} {p.category or '?':<6} {flag:<4}  {p.title}{derived} — {p.authors_display}")
    cut = sum(1 for p in papers if p.authors_truncated)
    note = f"; only the first three authors are known for the {cut} marked et al." if cut else ""
    print(f"{len(papers)} papers. * year inferred from the listing year{note}.")
    return 0


def cmd_ask(settings, args) -> int:  # type: ignore[no-untyped-def]
    from rag.assistant import Assistant

    assistant = Assistant(settings)
    if args.question == "-":
        status = 0
        for number, question, problem in stdin_questions(sys.stdin.buffer):
            if problem:
                status = 1
                if args.json:
                    print(json.dumps({"line": number, "error": problem}), flush=True)
                else:
                    print(f"labqa: error: stdin {problem}", file=sys.stderr)
                continue
            status |= _ask_one(assistant, question, args, number)
            sys.stdout.flush()
        return status
    return _ask_one(assistant, args.question, args)


def stdin_questions(stream) -> Iterator[tuple[int, str, str | None]]:  # type: ignore[no-untyped-def]
    """(line number, question, problem) per non-blank line. Lines are read as bytes and decoded one by one,
    so a byte that is not UTF-8 spoils only its own line (text-mode stdin would stop the whole batch)."""
    for number, raw in enumerate(stream, start=1):
        raw = raw.rstrip(b"\r\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, "", (f"line {number} is not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                               "send questions as UTF-8 text")
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        if text.strip():
            yield number, text, None


def _ask_one(assistant, question: str, args, line: int | None = None) -> int:  # type: ignore[no-untyped-def]
    from rag.types import Answer

    try:
        if args.json:
            answer = assistant.ask(question, offline=args.offline)
            print(json.dumps(answer_json(answer), ensure_ascii=False))
            return 0
        answer = None
        for item in assistant.stream(question, offline=args.offline):
            if isinstance(item, Answer):
                answer = item
            elif assistant.llm and not args.offline:
                print(item, end="", flush=True)
        assert answer is not None
        if not (assistant.llm and not args.offline) or answer.answerer.startswith("offline"):
            print(answer.answer)
        print()
        print(format_references(answer))
        return 0
    except LabQAError as exc:
        if args.question == "-":
            if args.json:
                print(json.dumps({"line": line, "question": question, "error": str(exc)}, ensure_ascii=False))
            else:
                print(f"labqa: error: stdin line {line}: {exc}", file=sys.stderr)
            return 1
        raise


def answer_json(answer) -> dict:  # type: ignore[no-untyped-def]
    return answer.to_dict()


def format_references(answer) -> str:  # type: ignore[no-untyped-def]
    from rag.formatting import reference

    lines = []
    if answer.citations:
        lines.append("References")
        lines += [f"  {reference(c)}" for c in answer.citations]
    if answer.filters:
        lines.append(f"Filters applied: {answer.filters}")
    for note in answer.notes:
        lines.append(f"Note: {note}")
    lines.append(f"Answerer: {answer.answerer} · {answer.timings_ms.get('total_ms', 0):.0f} ms")
    return "\n".join(lines)


def cmd_serve(settings, args) -> int:  # type: ignore[no-untyped-def]
    from ui.app import serve

    return serve(settings, host=args.host, port=args.port)


def cmd_eval(settings, args) -> int:  # type: ignore[no-untyped-def]
    from eval.runner import run_cli

    return run_cli(settings, args)


COMMANDS = {"ingest": cmd_ingest, "index": cmd_index, "papers": cmd_papers, "ask": cmd_ask, "serve": cmd_serve, "eval": cmd_eval}

if __name__ == "__main__":
    run()
