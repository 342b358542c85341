"""PDF → text by page, with pypdf. pypdf follows the content stream, which for LaTeX (pdfTeX) two-column
papers is column by column: the reading order. The text is normalised for retrieval: ligatures (ﬁ, ﬀ)
unfolded, words hyphenated across line ends joined, the arXiv side stamp moved out of the body.

A PDF that yields no text (a scan without a text layer) or cannot be opened (encrypted, damaged) is an
error, never an empty paper in the index."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from ingest.meta_records import PdfRecord, clean_arxiv_id, clean_doi
from rag.errors import SourceError

# Fewer letters than this per page on average: no usable text layer (scanned or image-only).
MIN_LETTERS_PER_PAGE = 200
STAMP_RE = re.compile(r"arXiv:(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)\s+\[[^\]]+\]\s+\d{1,2} \w{3} \d{4}")
DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
HYPHEN_BREAK_RE = re.compile(r"([a-z])-\n([a-z])")
EXPECTED = "a PDF with a text layer (run OCR, e.g. `ocrmypdf`, on scanned papers first)"


def is_pdf(head: bytes) -> bool:
    return head.lstrip()[:5] == b"%PDF-"


def parse_pdf(path: Path) -> PdfRecord:
    import logging

    import pypdf
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings about odd but readable files
    data = path.read_bytes()
    sha1 = hashlib.sha1(data).hexdigest()
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to restrict printing: those open.
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # pypdf needs `cryptography` for AES; any failure means: cannot open
                raise SourceError(str(path), None, f"encrypted PDF that cannot be opened ({exc})",
                                  "an unencrypted PDF") from None
            if not opened:
                raise SourceError(str(path), None, "encrypted PDF (needs a password)",
                                  "an unencrypted PDF: remove the password, e.g. `qpdf --decrypt`")
        raw = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except SourceError:
        raise
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise SourceError(str(path), None, f"damaged PDF ({type(exc).__name__}: {exc})", "a readable PDF") from None
    if not raw:
        raise SourceError(str(path), None, "PDF has no pages", EXPECTED)
    letters = sum(sum(c.isalpha() for c in p) for p in raw)
    if letters < MIN_LETTERS_PER_PAGE * len(raw):
        raise SourceError(str(path), None, f"PDF has no text layer ({letters} letters in {len(raw)} pages: "
                          "a scan or images only); it would be indexed empty", EXPECTED)
    arxiv = clean_arxiv_id(path.stem)
    stamp = STAMP_RE.search(raw[0])
    if stamp:
        arxiv = arxiv or clean_arxiv_id(stamp.group(1))
        raw[0] = raw[0][:stamp.start()] + raw[0][stamp.end():]
    doi_match = DOI_RE.search(raw[0])
    title = meta_title.strip() if meta_title and len(meta_title.split()) >= 3 else None
    return PdfRecord(path=str(path), sha1=sha1, pages=[clean_page(p) for p in raw], title=title, arxiv_id=arxiv,
                     doi=clean_doi(doi_match.group(1).rstrip(".,;)")) if doi_match else None)


def clean_page(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)  # ligatures: "eﬀective" → "effective"
    text = HYPHEN_BREAK_RE.sub(r"\1\2", text)  # "approximat-\ning" → "approximating"
    return " ".join(text.split())
