"""The catalog's derived state (name linker, term statistics, acronyms) updated from the papers that changed
equals the state built from every paper, so a running process can follow an ingest without recounting."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import load_papers
from rag.catalog import Catalog
from rag.derived import changes_between, derive
from rag.query_parser import linker_for
from rag.term_stats import catalog_terms
from rag.text import Vocabulary
from rag.types import Paper

DATA = Path(__file__).resolve().parent.parent / "data"


def built(papers: list[Paper], previous: Catalog | None = None, removed: list[Paper] | None = None,
          added: list[Paper] | None = None) -> Catalog:
    catalog = Catalog(papers)
    derive(catalog, previous, removed, added)
    return catalog


def assert_same_state(incremental: Catalog, full: Catalog, changed: set[str]) -> None:
    a, b = linker_for(incremental), linker_for(full)
    assert a.vocabulary == b.vocabulary
    assert a.stems == b.stems
    assert a.paper_names == b.paper_names
    assert a.acronyms.by_expansion == b.acronyms.by_expansion
    ta, tb = catalog_terms(incremental), catalog_terms(full)
    assert set(ta.paper_terms) == set(tb.paper_terms)
    for pid in changed & set(tb.paper_terms):
        assert ta.paper_terms[pid] == tb.paper_terms[pid]
    assert ta.vocab.n == tb.vocab.n == len(full)
    # the frequencies are those of the terms each paper holds
    assert ta.vocab.df == Vocabulary.from_term_sets(list(ta.paper_terms.values())).df


def test_adding_removing_and_changing_papers_updates_the_state_like_a_full_build() -> None:
    papers, _, _ = load_papers([DATA], 2026)
    assert len(papers) == 31
    # papers that define acronyms and names (EISAM, CURE4Rec, …) come and go
    leave = [p for p in papers if "EISAM" in p.abstract or "CURE4Rec" in p.title][:2]
    assert len(leave) == 2
    rest = [p for p in papers if p not in leave]
    before = built(rest)
    after_full = built(papers)
    after = built(papers, before, [], leave)
    assert_same_state(after, after_full, {p.paper_id for p in leave})
    assert "eisam" in linker_for(after).paper_names

    # and back: removing them again
    again = built(rest, after, leave, [])
    assert_same_state(again, before, set())
    assert "eisam" not in linker_for(again).paper_names

    # a changed paper (new abstract text) is removed and added
    old = papers[0]
    new = Paper.from_dict({**old.to_dict(), "abstract": old.abstract + " We call the method ZORBLAX."})
    changed = [new, *papers[1:]]
    gone, came = changes_between({p.paper_id: p.abstract for p in papers}, {p.paper_id: p.abstract for p in changed})
    assert gone == came == {old.paper_id}
    updated = built(changed, after, [old], [new])
    assert_same_state(updated, built(changed), {old.paper_id})
    assert linker_for(updated).paper_names.get("zorblax") == {old.paper_id}
