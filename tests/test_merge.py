"""One paper, many sources: DOI, then arXiv id, then normalised title; author name forms; BibTeX out and its
round trip through the BibTeX reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.bibtex import parse_bibtex
from ingest.merge import covers, same_author
from ingest.pipeline import load_papers
from rag.bibtex_out import select, to_bibtex

ROOT = Path(__file__).parents[1]
FIX = Path(__file__).parent / "fixtures"
DATA = ROOT / "data"


def folder(tmp_path: Path, *names: str, seeds: bool = False) -> Path:
    d = tmp_path / "sources"
    d.mkdir(exist_ok=True)
    for n in names:
        shutil.copy(FIX / n, d / n)
    if seeds:
        for f in DATA.iterdir():
            shutil.copy(f, d / f.name)
    return d


@pytest.mark.parametrize("a,b,same", [
    ("A. Del Maestro", "Adrian Del Maestro", True),
    ("J. M. Murray", "James M. Murray", True),
    ("James Murray", "James M. Murray", True),
    ("Zlatko Tešanović", "Zlatko Tesanovic", True),
    ("Nuria Rodríguez-Barroso", "N. Rodriguez-Barroso", True),
    ("B. Del Maestro", "Adrian Del Maestro", False),
    ("Adrian Maestro", "Adrian Del Maestro", False),
    ("Yuyuan Li", "Yulin Li", False),
])
def test_same_author(a: str, b: str, same: bool) -> None:
    assert same_author(a, b) is same and same_author(b, a) is same


def test_covers_a_listing_prefix() -> None:
    assert covers(["Siteng Huang", "Biao Gong", "Yulin Pan", "Jianwen Jiang"], ["Siteng Huang", "Biao Gong", "Yulin Pan"])
    assert not covers(["Siteng Huang", "Biao Gong"], ["Siteng Huang", "Biao Gong", "Yulin Pan"])


def test_arxiv_record_and_its_pdf_are_one_paper_with_all_authors(tmp_path: Path) -> None:
    papers, n_records, errors = load_papers([folder(tmp_path, "arxiv_old_1111.2011v2.xml", "1111.2011v2.pdf")], 2026)
    assert not errors and n_records == 2
    (p,) = papers
    assert p.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"] and not p.authors_truncated
    assert p.fulltext_pages == 8 and len(p.body) == 8 and p.arxiv_id == "1111.2011"
    assert [s.kind for s in p.provenance] == ["arxiv", "pdf"]
    assert p.title_source == "arxiv" and p.abstract.startswith("Theoretical description")


def test_renamed_pdf_is_matched_by_its_title(tmp_path: Path) -> None:
    d = folder(tmp_path, "arxiv_old_1111.2011v2.xml")
    (d / "murray-bethe.pdf").write_bytes((FIX / "1111.2011v2.pdf").read_bytes())
    papers, _, _ = load_papers([d], 2026)
    assert len(papers) == 1 and papers[0].fulltext_pages == 8


def test_pdf_without_record_is_its_own_paper(tmp_path: Path) -> None:
    d = folder(tmp_path)
    (d / "paper.pdf").write_bytes((FIX / "1111.2011v2.pdf").read_bytes())
    (p,) = load_papers([d], 2026)[0]
    assert p.title_source == "pdf" and p.title.startswith("Quantum Criticality for Extended Nodes")
    assert p.arxiv_id == "1111.2011"  # from the arXiv stamp on page 1, the file name says nothing


def test_bibtex_entry_merges_with_the_listing_entry(tmp_path: Path) -> None:
    papers, _, errors = load_papers([folder(tmp_path, "vop_authors.bib", seeds=True)], 2026)
    assert not errors and len(papers) == 31  # the seeds' 31 papers, the BibTeX entry is one of them
    vop = next(p for p in papers if p.title.startswith("VoP"))
    assert vop.paper_id == "vop-text-video-co-operative-prompt-tuning-for-cross-modal"  # the seed's id is kept
    assert len(vop.authors) == 7 and not vop.authors_truncated and vop.authors[-1] == "Donglin Wang"
    assert vop.bibtex_key == "Huang2023VoP" and vop.venue.startswith("Proceedings of the IEEE/CVF")
    assert [s.kind for s in vop.provenance] == ["listing", "bibtex"]
    assert vop.year == 2022 and vop.category == "cs.CV"  # the listing's own date and category stay


def test_doi_beats_title_and_conflicting_dois_stay_apart(tmp_path: Path) -> None:
    d = folder(tmp_path, "arxiv_old_1111.2011v2.xml")
    (d / "journal.bib").write_text(
        "@article{murray2012, title={Quantum criticality for extended nodes on a {B}ethe lattice in the large "
        "connectivity limit}, author={Murray, J. M. and Del Maestro, A. and Te{\\v{s}}anovi{\\'c}, Z.}, "
        "journal={Phys. Rev. B}, volume={85}, pages={115117}, year={2012}, doi={10.1103/PhysRevB.85.115117}}\n"
        "@article{erratum, title={Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large "
        "Connectivity Limit}, author={Murray, J. M.}, year={2013}, doi={10.1103/PhysRevB.87.000001}}\n",
        encoding="utf-8")
    papers, _, _ = load_papers([d], 2026)
    assert len(papers) == 2  # the record with another DOI is another paper, even with the same title
    main = next(p for p in papers if p.arxiv_id)
    assert [s.key for s in main.provenance] == ["1111.2011", "murray2012"]
    assert main.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]  # fuller forms kept
    assert main.venue == "Phys. Rev. B" and main.year == 2011


def test_arxiv_id_merges_bibtex_eprint_with_feed(tmp_path: Path) -> None:
    d = folder(tmp_path, "arxiv_new_1605.08386.xml")
    (d / "scholar.bib").write_text("@misc{stanley2016, title={Heat-bath random walks with {Markov} bases (v2)}, "
                                   "author={Stanley, Caprice and Windisch, Tobias}, eprint={1605.08386v3}, "
                                   "archivePrefix={arXiv}, keywords={Markov bases, mixing}, year={2016}}\n")
    (p,) = load_papers([d], 2026)[0]
    assert p.keywords == ["Markov bases", "mixing"] and p.categories == ["math.CO", "math.ST"]
    assert [s.kind for s in p.provenance] == ["arxiv", "bibtex"]


def test_bibtex_out_round_trip(tmp_path: Path) -> None:
    d = folder(tmp_path, "arxiv_old_1111.2011v2.xml", "arxiv_old_del_maestro.xml", "quantum_names.bib",
               "publisher_export.bib", "vop_authors.bib", seeds=True)
    papers, _, _ = load_papers([d], 2026)
    text = to_bibtex(papers)
    back = list(parse_bibtex("out.bib", text))
    assert len(back) == len(papers) == 49
    for p, r in zip(papers, back, strict=True):
        assert (r.title, r.authors, r.authors_truncated, r.year, r.doi, r.arxiv_id, r.keywords) == (
            p.title, p.authors, p.authors_truncated, p.year, p.doi, p.arxiv_id, p.keywords), p.paper_id
        assert r.abstract == p.abstract, p.paper_id
    assert len({r.key for r in back}) == len(back)  # unique keys
    assert "Del Maestro, Adrian" in text and "Chailloux, Andr{\\'e}" in text


def test_select_filter() -> None:
    papers, _, _ = load_papers([FIX / "arxiv_old_del_maestro.xml"], 2026)
    assert [p.arxiv_id for p in select(papers, "sachdev 2004")] == ["cond-mat/0412498"]
    assert len(select(papers, "")) == 10
    assert [p.arxiv_id for p in select(papers, "Herdman entanglement")] == ["1412.6529"]
    names, _, _ = load_papers([FIX / "quantum_names.bib"], 2026)
    assert [p.bibtex_key for p in select(names, "andre chailloux")] == ["ACG+14arxiv"]  # accents folded
