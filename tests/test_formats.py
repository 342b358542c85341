"""The new source formats against hand-checked values of real exports (tests/fixtures/SOURCES.md), and
their bad files: each problem is reported with the file and the line or entry key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.meta_records import MetaRecord, PdfRecord
from ingest.pipeline import load_papers
from ingest.sources import detect_format, parse_file
from rag.errors import SourceError, SourceErrors

FIX = Path(__file__).parent / "fixtures"


def records(path: Path) -> list:
    return list(parse_file(path))


def errors_of(paths: list[Path]) -> list[SourceError]:
    with pytest.raises((SourceErrors, SourceError)) as info:
        load_papers(paths, 2026)
    exc = info.value
    return exc.errors if isinstance(exc, SourceErrors) else [exc]


# ---- recognised by content ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kind", [
    ("arxiv_old_1111.2011v2.xml", "arxiv"), ("arxiv_new_1605.08386.xml", "arxiv"), ("1111.2011v2.pdf", "pdf"),
    ("vop_authors.bib", "bibtex"), ("publisher_export.bib", "bibtex"),
])
def test_format_is_recognised_without_the_extension(tmp_path: Path, name: str, kind: str) -> None:
    copy = tmp_path / "export"  # no extension at all
    copy.write_bytes((FIX / name).read_bytes())
    assert detect_format(copy, copy.read_bytes()[:4096]) == kind
    assert any(isinstance(r, MetaRecord | PdfRecord) for r in records(copy))


def test_seed_files_stay_text() -> None:
    data = Path(__file__).parents[1] / "data"
    for f in data.iterdir():
        assert detect_format(f, f.read_bytes()[:4096]) == "text"


# ---- BibTeX --------------------------------------------------------------------------------------------------

def test_bibtex_publisher_export_fields() -> None:
    ej, cikm = records(FIX / "publisher_export.bib")
    assert (ej.key, ej.line, ej.kind, ej.entry_type) == ("EJ2021", 1, "bibtex", "article")
    assert ej.title == "Distributed machine learning for energy trading in electric distribution system of the future"
    assert ej.authors == ["Ning Wang", "Jie Li", "Shen-Shyang Ho", "Chenxi Qiu"]  # "Last, First and …"
    assert ej.year == 2021 and ej.venue == "The Electricity Journal"
    assert ej.doi == "10.1016/j.tej.2020.106883"  # given as https://doi.org/… in the export
    assert ej.keywords == ["Smart grid", "Machine learning", "Energy trading", "DC grid cell"]
    assert ej.abstract.startswith("Machine Learning (ML) has seen a great potential") and ej.abstract.endswith(
        "constraints of the electric distribution systems.")
    assert "https://www.sciencedirect.com/science/article/pii/S1040619020301755" in ej.urls
    assert (cikm.key, cikm.line, cikm.entry_type) == ("CIKM2020", 18, "inproceedings")
    assert cikm.authors == ["Chenxi Qiu", "Anna Squicciarini", "Zhuozhao Li", "Ce Pang", "Li Yan"]
    assert cikm.venue == "Proceedings of the 29th ACM International Conference on Information & Knowledge Management"
    assert cikm.doi == "10.1145/3340531.3411863" and cikm.year == 2020
    assert cikm.keywords == ["location privacy", "spatial crowdsourcing", "geo-obfuscation"]


def test_bibtex_latex_and_name_forms() -> None:
    by_key = {r.key: r for r in records(FIX / "quantum_names.bib")}
    assert by_key["ACG+14arxiv"].authors == ["Dorit Aharonov", "André Chailloux", "Maor Ganz", "Iordanis Kerenidis",
                                             "Loïck Magnin"]  # Andr\'{e}, Lo\"{i}ck; capitalised field names
    assert by_key["Unruh2004"].authors == ["D. Unruh"]  # {{Unruh}, D.}
    assert by_key["dMM03"].authors == ["F. de Martini", "C. Monroe"]
    assert by_key["Unruh2004"].year == 2004  # year = 2004 without braces
    vop = records(FIX / "vop_authors.bib")[0]
    assert vop.title == "VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval"  # {VoP} braces gone
    assert len(vop.authors) == 7 and vop.authors[-1] == "Donglin Wang" and vop.date == "Jun 2023"


def test_bibtex_eprint_math_and_others(tmp_path: Path) -> None:
    bib = tmp_path / "scholar.bib"
    bib.write_text("""@article{feng2024controllable,
  title={Controllable Unlearning for Image-to-Image Generative Models via $\\varepsilon$-Constrained Optimization},
  author={Feng, Xiaohua and Li, Yuyuan and Rodr{\\'\\i}guez-Barroso, Nuria and others},
  journal={arXiv preprint arXiv:2408.01689},
  eprint={2408.01689v2}, archivePrefix={arXiv}, primaryClass={cs.CV},
  year={2024}, month=aug, keywords={unlearning; generative models}
}
""", encoding="utf-8")
    (r,) = records(bib)
    assert r.title == "Controllable Unlearning for Image-to-Image Generative Models via $\\varepsilon$-Constrained Optimization"
    assert r.authors == ["Xiaohua Feng", "Yuyuan Li", "Nuria Rodríguez-Barroso"] and r.authors_truncated
    assert r.arxiv_id == "2408.01689" and r.categories == ["cs.CV"] and r.date == "Aug 2024"
    assert r.keywords == ["unlearning", "generative models"]


def test_truncated_bibtex_names_the_line(tmp_path: Path) -> None:
    text = (FIX / "publisher_export.bib").read_text(encoding="utf-8")
    bad = tmp_path / "cut.bib"
    bad.write_text(text[: text.index("booktitle = {Proceedings")], encoding="utf-8")  # the download broke off
    errs = errors_of([bad])
    assert [(e.path, e.line) for e in errs] == [(str(bad), 18)]
    assert "does not parse" in errs[0].problem and "end of file" in errs[0].problem
    # the good entry before it is not lost: with --skip-invalid it is ingested
    papers, _, skipped = load_papers([bad], 2026, skip_invalid=True)
    assert [p.bibtex_key for p in papers] == ["EJ2021"] and len(skipped) == 1


def test_bibtex_entry_without_title(tmp_path: Path) -> None:
    bad = tmp_path / "x.bib"
    bad.write_text("@article{ok, title={A Title}, year=2020}\n\n@misc{notitle, author={Ann Lee}, year={2021}}\n")
    (err,) = errors_of([bad])
    assert err.line == 3 and "'notitle'" in err.problem and "no title" in err.problem


# ---- arXiv Atom ------------------------------------------------------------------------------------------

def test_arxiv_older_layout_fields() -> None:
    (r,) = records(FIX / "arxiv_old_1111.2011v2.xml")
    assert r.kind == "arxiv" and r.key == r.arxiv_id == "1111.2011" and r.line == 11
    assert r.title == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    assert r.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    assert (r.year, r.date) == (2011, "2011-11-08")  # published, not updated
    assert r.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]  # primary first, not only six cs areas
    assert r.doi == "10.1103/physrevb.85.115117" and r.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert r.urls[0] == "http://arxiv.org/abs/1111.2011v2" and "http://arxiv.org/pdf/1111.2011v2" in r.urls
    assert r.abstract.startswith("Theoretical description of anisotropic systems") and "\n" not in r.abstract


def test_arxiv_current_layout_fields() -> None:
    (r,) = records(FIX / "arxiv_new_1605.08386.xml")
    assert r.title == "Heat-bath random walks with Markov bases" and r.authors == ["Caprice Stanley", "Tobias Windisch"]
    assert (r.arxiv_id, r.date, r.categories, r.doi) == ("1605.08386", "2016-05-26", ["math.CO", "math.ST"], None)
    assert r.urls == ["https://arxiv.org/abs/1605.08386v1", "https://arxiv.org/pdf/1605.08386v1"]


def test_arxiv_old_style_ids_and_latex() -> None:
    recs = {r.arxiv_id: r for r in records(FIX / "arxiv_old_del_maestro.xml")}
    assert len(recs) == 10 and "cond-mat/0412498" in recs
    assert recs["1412.6529"].abstract.startswith("We consider the Rényi entanglement entropy")  # R\'{e}nyi


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    text = (FIX / "arxiv_old_del_maestro.xml").read_text(encoding="utf-8")
    bad = tmp_path / "feed.xml"
    bad.write_text(text.replace("</title>", "</titel>", 3), encoding="utf-8")
    (err,) = errors_of([bad])
    assert err.path == str(bad) and err.line == text[: text.index("</title>")].count("\n") + 1 == 4
    assert "malformed XML" in err.problem and "mismatched tag" in err.problem


# ---- CSV / JSONL ------------------------------------------------------------------------------------------

CSV = ('title,authors,year,abstract,url,category,code\n'
       '"Heat-bath random walks with Markov bases","Caprice Stanley; Tobias Windisch",2016,'
       '"Graphs on lattice points are studied, whose edges come from moves.",https://arxiv.org/abs/1605.08386,'
       'math.CO;math.ST,https://github.com/example/heatbath\n'
       'A Second Paper,Ann Lee,2020-05-01,Text of the second abstract.,,cs.IR,no\n')


def test_csv_fields(tmp_path: Path) -> None:
    path = tmp_path / "papers.csv"
    path.write_text(CSV, encoding="utf-8")
    a, b = records(path)
    assert (a.kind, a.line, a.title, a.authors, a.year) == (
        "csv", 2, "Heat-bath random walks with Markov bases", ["Caprice Stanley", "Tobias Windisch"], 2016)
    assert a.categories == ["math.CO", "math.ST"] and a.has_code and "https://github.com/example/heatbath" in a.urls
    assert (b.line, b.year, b.date, b.has_code, b.authors) == (3, 2020, "2020-05-01", False, ["Ann Lee"])


def test_jsonl_fields_and_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text('{"title": "T1", "abstract": "A1.", "authors": ["Ann Lee", "Bo Chen"], "year": 2021, '
                    '"code": true, "doi": "10.1/ABC"}\n\n{"title": "T2", "abstract": "A2.", "citations": 12}\n')
    recs = records(path)
    assert [type(r).__name__ for r in recs] == ["MetaRecord", "SourceError", "MetaRecord"]
    assert recs[0].authors == ["Ann Lee", "Bo Chen"] and recs[0].doi == "10.1/abc" and recs[0].has_code
    assert recs[1].line == 3 and "'citations'" in recs[1].problem  # reported, not silently dropped


@pytest.mark.parametrize("body,line,problem", [
    ("title,authors,year\nT,Ann Lee,2020\n", 1, "missing column(s) abstract"),
    ("title,abstract,pages\nT,An abstract.,12\n", 1, "unknown column(s) 'pages'"),
    ("title,abstract,year\nT,An abstract.,20x0\n", 2, "year '20x0' is not a year"),
    ("title,abstract\nT,An abstract.,extra\n", 2, "row has 3 cells"),
])
def test_bad_csv(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    errs = errors_of([path])
    assert [(e.path, e.line) for e in errs] == [(str(path), line)] and problem in errs[0].problem


# ---- PDF ---------------------------------------------------------------------------------------------------

def test_pdf_text_by_page() -> None:
    (r,) = records(FIX / "1111.2011v2.pdf")
    assert len(r.pages) == 8 and r.arxiv_id == "1111.2011" and len(r.sha1) == 40
    assert r.pages[0].startswith("Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity")
    assert "arXiv:1111.2011v2" not in r.pages[0]  # the side stamp is not body text
    assert "effective action for a single node" in r.pages[0]  # ligature "eﬀective" unfolded
    # two-column reading order: page 2's left column runs on into its right column
    p2 = r.pages[1]
    assert p2.index("exercise caution in relating results") < p2.index("In this work we consider Bethe lattice")
    assert "III. CRITICAL POINT IN N → ∞ LIMIT" in r.pages[4]


def _pdf(tmp_path: Path, name: str, encrypt: str | None = None, blank: bool = False) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    if blank:  # what a scan looks like to a text extractor: pages with no text layer
        writer.add_blank_page(612, 792)
        writer.add_blank_page(612, 792)
    else:
        writer.add_page(PdfReader(FIX / "1111.2011v2.pdf").pages[0])
    if encrypt:
        writer.encrypt(user_password=encrypt, algorithm="AES-128")
    path = tmp_path / name
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_image_only_pdf_is_reported(tmp_path: Path) -> None:
    (err,) = errors_of([_pdf(tmp_path, "scan.pdf", blank=True)])
    assert "no text layer" in err.problem and "ocrmypdf" in err.expected


def test_encrypted_pdf_is_reported(tmp_path: Path) -> None:
    (err,) = errors_of([_pdf(tmp_path, "locked.pdf", encrypt="secret")])
    assert "encrypted PDF" in err.problem and err.path.endswith("locked.pdf")


def test_pdf_with_empty_password_opens(tmp_path: Path) -> None:
    (r,) = records(_pdf(tmp_path, "print-protected.pdf", encrypt=""))
    assert r.pages[0].startswith("Quantum Criticality")


def test_damaged_pdf(tmp_path: Path) -> None:
    bad = tmp_path / "cut.pdf"
    bad.write_bytes((FIX / "1111.2011v2.pdf").read_bytes()[:5000])
    (err,) = errors_of([bad])
    assert err.path == str(bad) and ("damaged PDF" in err.problem or "no text layer" in err.problem)


# ---- parse speed (reported, loosely bounded so a slow CI machine still passes) -------------------------------

def test_parse_rates(capsys: pytest.CaptureFixture[str]) -> None:
    rates = {}
    for name, unit in (("arxiv_new_testing_100.xml", "entries"), ("publisher_export.bib", "entries"),
                       ("1111.2011v2.pdf", "pages")):
        t = time.perf_counter()
        recs = records(FIX / name)
        n = len(recs[0].pages) if unit == "pages" else len(recs)
        rates[name] = (n / (time.perf_counter() - t), unit)
        assert n >= 2
    with capsys.disabled():
        print("\nparse rates: " + ", ".join(f"{k} {v:.0f} {u}/s" for k, (v, u) in rates.items()))
    assert rates["arxiv_new_testing_100.xml"][0] > 20
