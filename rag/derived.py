"""What is computed from a catalog once per version of the collection: its name linker (rag.linking) and term
statistics (rag.term_stats), with the acronyms they share. From scratch that reads every paper (over a minute
at 100k papers); from the previous version's, only the papers that changed — which is how a running process
and a new process after an ingest come up to date (rag.local_index)."""

from __future__ import annotations

from rag.catalog import Catalog
from rag.types import Paper


def derive(catalog: Catalog, previous: Catalog | None = None, removed: list[Paper] | None = None,
           added: list[Paper] | None = None) -> None:
    """Attach the linker and term statistics to `catalog`. With `previous` (a catalog whose linker and terms
    are built), `removed` (its papers that are gone or changed) and `added` (the new or changed papers of
    `catalog`), they are updated from those papers alone."""
    from rag.query_parser import linker_for
    from rag.term_stats import catalog_terms

    built = previous is not None and "_linker" in previous.__dict__ and "_terms" in previous.__dict__
    if built:
        assert previous is not None
        from rag.linking import Linker

        linker = Linker(catalog, previous.__dict__["_linker"], removed or [], added or [])
        catalog.__dict__.setdefault("_linker", linker)
        catalog_terms(catalog, previous.__dict__["_terms"], removed or [], added or [])
    linker_for(catalog).warm()
    catalog_terms(catalog)


def changes_between(old: dict[str, str], new: dict[str, str]) -> tuple[set[str], set[str]]:
    """(ids gone or changed, ids new or changed) between two {paper id: content digest} maps."""
    removed = {pid for pid, d in old.items() if new.get(pid) != d}
    added = {pid for pid, d in new.items() if old.get(pid) != d}
    return removed, added
