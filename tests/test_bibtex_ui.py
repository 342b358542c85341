"""BibTeX out at the edges: `labqa papers --bibtex [FILTER]` and the "Copy BibTeX" controls of the source cards
(their data parses back to the cited papers)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from ingest.bibtex import parse_bibtex
from ingest.pipeline import load_papers
from rag.cli import main
from rag.types import Answer, Citation
from ui.cards import COPY_BIBTEX_JS, source_card, sources_html

FIX = Path(__file__).parent / "fixtures"


def _citation(n: int, p, page: int | None = None) -> Citation:  # type: ignore[no-untyped-def]
    return Citation(n=n, paper_id=p.paper_id, title=p.title, authors=p.authors, authors_truncated=p.authors_truncated,
                    year=p.year, date=p.date, category=p.category, url=p.url, has_code=p.has_code,
                    snippet=p.abstract[:200], page=page, doi=p.doi, arxiv_id=p.arxiv_id)


def _bibtex_data(fragment: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'data-bibtex="([^"]*)"', fragment)]


def test_copy_bibtex_on_cards_and_for_all_cited() -> None:
    papers, _, _ = load_papers([FIX / "arxiv_old_del_maestro.xml", FIX / "quantum_names.bib"], 2026)
    by_id = {p.paper_id: p for p in papers}
    a, b = papers[0], next(p for p in papers if p.bibtex_key == "ACG+14arxiv")
    card = source_card(_citation(1, a, page=5), a)
    assert "p. 5" in card and "Copy BibTeX" in card
    (entry,) = _bibtex_data(card)
    (rec,) = parse_bibtex("card", entry)
    assert (rec.title, rec.authors, rec.arxiv_id) == (a.title, a.authors, a.arxiv_id)
    answer = Answer(question="q", answer="x [1] [2]", answerer="offline", abstained=False,
                    citations=[_citation(1, a), _citation(2, b)], sources=[])
    panel = sources_html(answer, by_id)
    *_, all_cited = _bibtex_data(panel)
    assert [r.key for r in parse_bibtex("all", all_cited)][1] == "ACG+14arxiv"
    assert "Copy BibTeX of the 2 cited papers" in panel and "onclick" not in panel
    assert "navigator.clipboard.writeText" in COPY_BIBTEX_JS


@pytest.mark.slow
def test_labqa_papers_bibtex_filter(index_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["papers", "--bibtex", "VoP"]) == 0
    out = capsys.readouterr().out
    (rec,) = parse_bibtex("stdout", out)
    assert rec.title == "VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval"
    assert rec.authors == ["Siteng Huang", "Biao Gong", "Yulin Pan"] and rec.authors_truncated  # "and others"
    assert main(["papers", "--bibtex"]) == 0
    assert len(list(parse_bibtex("all", capsys.readouterr().out))) == 31
    assert main(["papers", "--bibtex", "no such paper anywhere"]) == 1
    assert "no paper matches" in capsys.readouterr().err
