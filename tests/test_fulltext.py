"""The issue's done-when, end to end with a real Chroma store and real embeddings: the seeds, a publisher
BibTeX export, two arXiv feeds and an arXiv PDF with its record give one paper per real paper; the PDF's
body answers a question its abstract cannot, with a page citation; a re-ingest changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from rag.settings import Settings

ROOT = Path(__file__).parents[1]
FIX = Path(__file__).parent / "fixtures"
SOURCES = ("publisher_export.bib", "vop_authors.bib", "arxiv_old_1111.2011v2.xml", "arxiv_old_del_maestro.xml",
           "1111.2011v2.pdf")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Settings:
    src = tmp_path_factory.mktemp("sources")
    for f in (ROOT / "data").iterdir():
        shutil.copy(f, src / f.name)
    for name in SOURCES:
        shutil.copy(FIX / name, src / name)
    settings = Settings(home=tmp_path_factory.mktemp("home"), model_cache=model_cache, data_dir=src)
    report = ingest(settings)
    assert report.papers == 31 + 2 + 1 + 10  # seeds, publisher export, the PDF's paper, the Del Maestro feed
    return settings


def test_one_paper_per_real_paper(lab: Settings) -> None:
    from rag.store import load_catalog

    papers = load_catalog(lab)
    murray = [p for p in papers if p.arxiv_id == "1111.2011"]
    assert len(murray) == 1
    (p,) = murray
    assert p.fulltext_pages == 8 and p.doi == "10.1103/physrevb.85.115117" and not p.authors_truncated
    assert p.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert [s.kind for s in p.provenance] == ["arxiv", "pdf"]
    vop = next(p for p in papers if p.title.startswith("VoP"))
    assert len(vop.authors) == 7 and not vop.authors_truncated and vop.bibtex_key == "Huang2023VoP"
    assert len({p.paper_id for p in papers}) == len(papers)


def test_pdf_body_answers_with_a_page_citation(lab: Settings) -> None:
    from rag.assistant import Assistant
    from rag.store import load_catalog

    murray = next(p for p in load_catalog(lab) if p.arxiv_id == "1111.2011")
    assert "polarization" not in murray.abstract.lower()  # only the body (page 6) says it
    answer = Assistant(lab).ask("What is the inverse propagator of the lambda field proportional to in the Bethe "
                                "lattice model?")
    assert not answer.abstained
    cited = [c for c in answer.citations if c.paper_id == murray.paper_id]
    assert cited and cited[0].page == 6 and "polarization operator" in cited[0].snippet
    assert json.loads(json.dumps(answer.to_dict()))["citations"][0]["page"] == 6  # in `labqa ask --json`


def test_reingest_is_idempotent(lab: Settings) -> None:
    report = ingest(lab)
    assert (report.chunks_added, report.chunks_updated, report.chunks_removed, report.chunks_embedded) == (0, 0, 0, 0)
    assert report.papers_indexed == 0 and report.chunks_unchanged > 0
