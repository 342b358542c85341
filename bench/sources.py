"""Parse rates of the paper-source formats and the ingest throughput of a 100-entry arXiv feed.

    python bench/sources.py [--repeat N]

Parse rates are records per second of parse_file() (reading + parsing + record building, no index), best of
N runs, on the real fixtures in tests/fixtures (BibTeX and CSV/JSONL files are built from them, see below).
The ingest figure is a cold `ingest()` of tests/fixtures/arxiv_new_testing_100.xml into an empty LABQA_HOME
(model load, chunking, embedding, Chroma writes), then a re-run with nothing changed."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIX = ROOT / "tests" / "fixtures"


def best_rate(path: Path, repeat: int, unit: str) -> tuple[float, int]:
    from ingest.sources import parse_file

    best = 0.0
    n = 0
    for _ in range(repeat):
        t = time.perf_counter()
        recs = list(parse_file(path))
        dt = time.perf_counter() - t
        n = sum(len(r.pages) for r in recs) if unit == "pages" else len(recs)
        best = max(best, n / dt)
    return best, n


def build_inputs(tmp: Path) -> dict[str, Path]:
    from ingest.pipeline import load_papers
    from rag.bibtex_out import to_bibtex

    papers, _, _ = load_papers([FIX / "arxiv_new_testing_100.xml", FIX / "arxiv_old_del_maestro.xml",
                                FIX / "publisher_export.bib"], 2026)
    # 1,120 LaTeX-heavy BibTeX entries with abstracts: the 112 papers, written by BibTeX out, ten times (keys made unique).
    bib = tmp / "big.bib"
    one = to_bibtex(papers)
    bib.write_text("".join(one.replace("@article{", f"@article{{r{i}").replace("@misc{", f"@misc{{r{i}")
                           .replace("@inproceedings{", f"@inproceedings{{r{i}") for i in range(10)), encoding="utf-8")
    rows = [{"title": p.title, "authors": "; ".join(p.authors), "year": p.year, "abstract": p.abstract,
             "url": p.url or "", "category": ";".join(p.categories), "code": "no"} for p in papers] * 10
    with (tmp / "big.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (tmp / "big.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # The real publisher export (2 entries with abstracts, little LaTeX), 500 times with unique keys.
    export = (FIX / "publisher_export.bib").read_text(encoding="utf-8")
    plain = tmp / "export.bib"
    plain.write_text("\n".join(export.replace("{EJ2021,", f"{{EJ{i},").replace("{CIKM2020,", f"{{CIKM{i},")
                               for i in range(500)), encoding="utf-8")
    return {"bibtex": bib, "bibtex_plain": plain, "csv": tmp / "big.csv", "jsonl": tmp / "big.jsonl"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        inputs = build_inputs(tmp)
        cases = [("arXiv Atom (current layout)", FIX / "arxiv_new_testing_100.xml", "entries"),
                 ("arXiv Atom (older layout)", FIX / "arxiv_old_del_maestro.xml", "entries"),
                 ("BibTeX, publisher export (little LaTeX)", inputs["bibtex_plain"], "entries"),
                 ("BibTeX, LaTeX-heavy (BibTeX out of arXiv records: braced titles, $…$, accents)", inputs["bibtex"],
                  "entries"),
                 ("CSV", inputs["csv"], "entries"),
                 ("JSONL", inputs["jsonl"], "entries"), ("PDF (two-column, 8 pages)", FIX / "1111.2011v2.pdf", "pages")]
        print("| source | records | rate |\n| --- | --- | --- |")
        for name, path, unit in cases:
            rate, n = best_rate(path, args.repeat, unit)
            print(f"| {name} | {n} {unit} | {rate:,.0f} {unit}/s |")

        from ingest.pipeline import ingest
        from rag.settings import Settings

        feed = tmp / "feed"
        feed.mkdir()
        (feed / "feed.xml").write_bytes((FIX / "arxiv_new_testing_100.xml").read_bytes())
        # The model's ONNX export is made once per machine (first ingest ever); do it on a one-entry feed so the
        # figure below is what every later ingest costs: model load + chunk + embed + write.
        one = tmp / "one"
        one.mkdir()
        (one / "feed.xml").write_bytes((FIX / "arxiv_new_1605.08386.xml").read_bytes())
        models = tmp / "models"
        t = time.perf_counter()
        ingest(Settings(home=tmp / "home-one", data_dir=one, model_cache=models))
        print(f"\nfirst ingest on this machine (ONNX export of the model, 1 paper): {time.perf_counter() - t:.1f} s")
        settings = Settings(home=tmp / "home", data_dir=feed, model_cache=models)
        t = time.perf_counter()
        r = ingest(settings)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        again = ingest(settings)
        warm = time.perf_counter() - t
        print(f"\ningest of a 100-entry arXiv feed: {r.papers} papers, {r.chunks_embedded} chunks embedded in "
              f"{cold:.1f} s into an empty index ({r.papers / cold:.1f} papers/s, {r.chunks_embedded / cold:.1f} "
              f"chunks/s, model load included); re-run {warm:.2f} s, {again.chunks_embedded} embedded")


if __name__ == "__main__":
    main()
