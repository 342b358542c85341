"""`labqa` — ingest, papers, ask, serve, eval. Heavy modules are imported inside the commands that need
them, so `labqa --help` and `labqa papers` start fast."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
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

    p = sub.add_parser("ingest", help="parse the sources and (re)build the index")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: LABQA_DATA_DIR, data/)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--skip-invalid", action="store_true", help="ingest the good records, list the bad ones")

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
    p.add_argument("--dataset", type=Path, default=None, help="JSONL question set (default: eval/questions.jsonl)")
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

    bar = ProgressDisplay("indexing", "papers")
    try:
        report = ingest(settings, args.paths or None, skip_invalid=args.skip_invalid, progress=bar.update)
    finally:
        bar.close()
    if args.json:
        d = report.to_dict()
        d["seconds"] = round(d["seconds"], 3)
        print(json.dumps(d))
    else:
        print(f"{report.papers} papers from {report.records} records ({report.merged} merged as other versions)")
        print(f"chunks: {report.chunks_added} added, {report.chunks_updated} updated, "
              f"{report.chunks_unchanged} unchanged, {report.chunks_removed} removed "
              f"({report.chunks_embedded} embedded)")
        print(f"{report.seconds:.2f} s; index at {settings.chroma_url or settings.home / 'chroma'}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} bad record(s):", file=sys.stderr)
        for s in report.skipped:
            print(f"  - {s}", file=sys.stderr)
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
        for line in sys.stdin:
            if not line.strip():
                continue
            status |= _ask_one(assistant, line.rstrip("\n"), args)
            sys.stdout.flush()
        return status
    return _ask_one(assistant, args.question, args)


def _ask_one(assistant, question: str, args) -> int:  # type: ignore[no-untyped-def]
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
        if args.json and args.question == "-":
            print(json.dumps({"question": question, "error": str(exc)}))
            return 1
        raise


def answer_json(answer) -> dict:  # type: ignore[no-untyped-def]
    return answer.to_dict()


def format_references(answer) -> str:  # type: ignore[no-untyped-def]
    lines = []
    if answer.citations:
        lines.append("References")
        for c in answer.citations:
            authors = ", ".join(c.authors) + (" et al." if c.authors_truncated else "") if c.authors else "authors unknown"
            link = f" {c.url}" if c.url else ""
            lines.append(f"  [{c.n}] {c.title}. {authors} ({c.year or 'year unknown'}).{link}")
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


COMMANDS = {"ingest": cmd_ingest, "papers": cmd_papers, "ask": cmd_ask, "serve": cmd_serve, "eval": cmd_eval}

if __name__ == "__main__":
    run()
