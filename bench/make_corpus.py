"""Synthetic corpora in the seed formats, for the scale benchmark.

    .venv/bin/python bench/make_corpus.py --papers 10000 --out bench/out/corpus-10k --check
    .venv/bin/python bench/make_corpus.py --sizes 1k,10k,100k          # bench/out/corpus-<size>

New papers are made by recombining sentences of the real abstracts in data/ (the method names they
mention are replaced by the new paper's name), with generated titles, authors, dates, categories and
`Code` flags. Layout of a corpus folder:

    data/listing-0001.txt ...     3-line listing records, `--per-file` papers per file
    data/abstracts-0001.txt ...   `Abstract:` lines: reworded other versions of listed papers, and papers
                                  that are in no listing (their title is derived by ingest)
    manifest.jsonl                one line per expected paper (title, authors, year, ...), in ingest order
    questions.json                benchmark questions about this corpus (topic, acronym, metadata)

Deterministic for a seed, and prefix-stable: paper i is the same in every size, so the 1k corpus is the
first 1k papers of the 10k one (a vector cache filled at 10k serves 1k and most of 100k). Titles and
first authors are generated so that the listing parser can split them (simple given names; checked by
--check against ingest.papers.split_title_authors).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_DATA = ROOT / "data"
OUT = ROOT / "bench" / "out"
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}

CATS = ["CV", "IR", "LG", "CL", "AI", "CR"]
CAT_WEIGHTS = [25, 20, 30, 12, 8, 5]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
YEARS = list(range(2015, 2027))
YEAR_WEIGHTS = [1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 8]

# Simple given names only (no inner capitals): the listing glues the first author to the title, and the
# parser finds the given name at the last capital letter.
GIVEN = """Wei Jing Li Yan Hao Min Jun Lei Xin Yu Tao Bo Fang Hui Qing Ying Zhen Ming Chen Kai Rui Yang Lin
Jie Peng Ning Xiao Yun Fei Han Long Qi Shan Ting Wen Yue Zhi Hong Ling Mei Ping Bin Gang Jian Kun Liang
Anna Maria Laura Sofia Elena Clara Julia Emma Lena Marta Nora Alice Irene Paula Sara Eva Ines Ana Vera Ida
James John Robert Michael David Daniel Thomas Peter Paul Mark Adam Lucas Simon Oliver Henry Jonas Felix
Hugo Leon Noah Elias Oscar Victor Martin Stefan Andreas Marco Luca Matteo Diego Pablo Carlos Rafael Tomas
Ahmed Omar Yusuf Karim Hassan Amir Reza Ali Arjun Rahul Vikram Ravi Anil Sanjay Priya Anjali Neha Kavya Divya
Hiroshi Takeshi Kenji Yuki Haruto Sota Aoi Yui Minho Jisoo Seojun Hyun Dong Sung Tuan Minh Linh Thanh Duc
Igor Dmitri Sergei Olga Irina Nikolai Pavel Ivan Katya Lars Nils Sven Erik Ingrid Astrid Freya Magnus
José Andrés Inés Zoë Chloé André Renée Björn Søren Jürgen""".split()
FAMILY = """Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng Liang Xie
Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen
Yao Jin Fu Zhong Tan Lai Qian Kong Bai Wen Fang Shi Mao Qiu Xiong Meng Qin Yan Xue Hou Lei Long Duan Hao Shao
Smith Johnson Brown Miller Davis Wilson Moore Taylor Anderson Thomas Jackson White Harris Martin Thompson Garcia
Martinez Robinson Clark Rodriguez Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams Nelson Hill
Campbell Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Murphy Cook
Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray
Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Koch Richter Klein Wolf Neumann Schwarz
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti Costa Giordano
Silva Santos Oliveira Souza Pereira Lima Carvalho Ferreira Almeida Gomes Ribeiro Martins Rocha Álvarez
Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Nguyen Tran Le Pham Hoang Phan Vu Vo Dang Bui Do Ngo
Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki Matsumoto
Sharma Verma Gupta Singh Kumar Patel Shah Mehta Joshi Reddy Rao Iyer Nair Menon Das Bose Ghosh Sen Khan
Ivanov Petrov Smirnov Popov Volkov Sokolov Novak Horvat Kowalski Nowak Lindqvist Nilsson Larsen Hansen
Jensen Berg Dahl Holm Lund Strand Eriksen Haugen Bakker Visser Smit Mulder Jansen Dubois Moreau Laurent
Lefebvre Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Mercier Blanc Guerin Boyer Garnier Chevalier""".split()

ADJ = """Efficient Robust Scalable Provable Training-Free Lightweight Fair Private Unified Adaptive Federated
Interpretable Controllable Generalized Certified Sparse Contrastive Causal Hierarchical Decoupled Multimodal
Personalized Zero-Shot Few-Shot Self-Supervised Diffusion-Based Graph-Based Memory-Efficient""".split()
APPROACH = ["Prompt Tuning", "Unlearning", "Knowledge Distillation", "Sharpness-Aware Minimization",
            "Representation Learning", "Calibration", "Data Selection", "Fine-Tuning", "Alignment",
            "Model Editing", "Evaluation", "Optimization", "Attribute Protection", "Retrieval", "Adaptation",
            "Preference Learning", "Regularization", "Benchmarking", "Defense", "Generation"]
ASPECT = ["Deeper Influence", "Teacher-Student Memory", "Item-wise Sharpness", "Wasserstein Distances",
          "Dominant Sets", "Trajectory Invariance", "Motion Modulation", "Layout Correction",
          "Physics Awareness", "Optimal Transport", "Active Forgetting", "Bandit Feedback", "Group Constraints"]
# Tasks by domain: a paper's title task follows the domain of the seed abstract it borrows most from.
TASKS = {
    "recommend": ["Recommender Systems", "Sequential Recommendation", "Federated Recommendation",
                  "LLM-based Recommendation", "Recommendation Unlearning", "Long-Tail Recommendation"],
    "unlearn": ["Machine Unlearning", "Generative Model Unlearning", "Class-wise Unlearning",
                "Attribute Unlearning", "Unlearning in Large Language Models"],
    "federat": ["Federated Learning", "One-Shot Federated Adaptation", "Fair Federated Learning"],
    "video": ["Text-Video Retrieval", "Image-to-Video Generation", "Video Generative Models"],
    "image": ["Text-to-Image Generation", "Image-to-Image Generative Models", "Layout Calibration"],
    "copyright": ["Copyright Protection", "Copyright Compliance of Vision-Language Models"],
    "fair": ["Fair Classification", "User-Oriented Fairness", "Group-Fairness Calibration"],
    "language model": ["Large Language Models", "Multimodal Large Language Models", "Vision-Language Models"],
    "": ["Representation Learning", "Knowledge Graphs", "Portfolio Selection", "Multi-Class Classification",
         "Inference Attacks", "Multimodal Reasoning"],
}
SYLLABLES = """Fed Rec Vo Lex Mo Gra Tri Ne Sa Cu Ra Pix Dif Kar Lu Zen Tor Vi Qua Sel Bri Cal Dyn Ev Fla Hel
Io Jar Kin Mar Nov Or""".split()
SUFFIXES = ["Net", "Rec", "GAN", "Former", "Fair", "Sum", "Edit", "Bench", "Flow", "X", "4Rec", "Fed", "Gen",
            "CLIP", "Prompt", "Guard"]
REWORD = [("propose", "present"), ("novel", "new"), ("experiments", "evaluations"), ("demonstrate", "show"),
          ("significantly", "substantially"), ("framework", "approach"), ("However", "Yet"),
          ("effective", "effectual"), ("performance", "accuracy"), ("existing", "prior"), ("method", "technique")]
OPENINGS = ["We present {acr}, {a} {adj} {approach} method for {task}.",
            "This paper introduces {acr}, {a} {adj} approach to {approach} in {task}.",
            "We study {approach} for {task} and propose {acr}."]
CODE_HOSTS = ["https://github.com/{user}/{acr}", "https://{user}.github.io/{acr}"]


@dataclass
class SeedAbstract:
    text_sentences: list[str]
    names: list[str]  # method names this abstract uses, replaced by the new paper's name
    domain: str


@dataclass
class GenPaper:
    index: int
    kind: str  # "listing" or "untitled" (only in an abstracts file; ingest derives its title)
    title: str
    authors: list[str]
    truncated: bool
    year: int | None
    year_inferred: bool
    date: str | None
    category: str | None
    has_code: bool
    acronym: str
    abstract: str
    score: float | None = None
    versions: list[str] = field(default_factory=list)  # reworded other versions (abstracts file)


def load_seed() -> list[SeedAbstract]:
    """Sentences of every seed abstract, with the method names to replace and a domain for titles."""
    from ingest.sources import ListingRecord, parse_file, source_files
    from rag.text import sentences

    out = []
    for f in source_files([SEED_DATA]):
        for rec in parse_file(f):
            if isinstance(rec, Exception):
                continue
            text = rec.abstract
            names = set(re.findall(r"\(([A-Z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*)\)", text))
            if isinstance(rec, ListingRecord) and ":" in rec.title_line:
                head = rec.title_line.split(":")[0]
                if " " not in head and len(head) >= 3:
                    names.add(head)
            low = text.lower()
            domain = next((d for d in TASKS if d and d in low), "")
            out.append(SeedAbstract(sentences(text), sorted(names, key=len, reverse=True), domain))
    return out


def acronym(i: int, seed: int) -> str:
    """A unique method name per paper index (a seeded bijection of the index space: prefix-stable)."""
    n_syl, n_suf = len(SYLLABLES), len(SUFFIXES)
    space = n_syl * n_syl * n_syl * n_suf
    # An affine map x -> (a*x + b) mod space with gcd(a, space) = 1 is a permutation.
    a = 2654435761 % space
    while math.gcd(a, space) != 1:
        a += 1
    x = (a * (i + 1) + seed * 7919 + 12345) % space
    s1, x = x % n_syl, x // n_syl
    s2, x = x % n_syl, x // n_syl
    s3, suf = x % n_syl, x // n_syl
    return SYLLABLES[s1] + SYLLABLES[s2] + SYLLABLES[s3].lower() + SUFFIXES[suf]


def author_pool(seed: int, size: int = 30_000) -> list[str]:
    """A fixed pool of distinct names (same for every corpus size); drawn with a Zipf-like skew, so a few
    authors are prolific and most have a handful of papers."""
    rng = random.Random(f"authors-{seed}")
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < size:
        n = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        if n not in seen:
            seen.add(n)
            names.append(n)
    return names


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


def make_paper(i: int, seed: int, seeds: list[SeedAbstract], authors: list[str], cum_weights: list[float],
               versions: float, untitled: float) -> GenPaper:
    rng = random.Random(f"paper-{seed}-{i}")
    acr = acronym(i, seed)
    primary = rng.choice(seeds)
    task = rng.choice(TASKS[primary.domain])
    adj, approach = rng.choice(ADJ), rng.choice(APPROACH)
    form = rng.random()
    if form < 0.7:
        title = f"{acr}: {adj} {approach} for {task}"
    elif form < 0.9:
        title = f"{acr}: {approach} for {task} with {rng.choice(ASPECT)}"
    else:
        title = f"Can {acr} Improve {approach} for {task}?"
    # Sentences: a short run from the primary abstract, the rest from others, in their original order.
    start = rng.randrange(max(1, len(primary.text_sentences) - 2))
    picked = [(primary, j) for j in range(start, min(start + rng.randint(2, 3), len(primary.text_sentences)))]
    for _ in range(rng.randint(3, 5)):
        other = rng.choice(seeds)
        picked.append((other, rng.randrange(len(other.text_sentences))))
    picked.sort(key=lambda t: t[1] / max(1, len(t[0].text_sentences)))
    sents = [OPENINGS[rng.randrange(len(OPENINGS))].format(acr=acr, a=_article(adj), adj=adj.lower(),
                                                           approach=approach.lower(), task=task)]
    for src, j in picked:
        s = src.text_sentences[j]
        for name in src.names:
            s = re.sub(rf"\b{re.escape(name)}\b", acr, s)
        s = re.sub(r"https?://\S+", "", s).strip()  # code links come from has_code below
        if s and s not in sents:
            sents.append(s)
    has_code = rng.random() < 0.4
    user = authors[rng.randrange(2000)].split()[1].lower()
    if has_code and rng.random() < 0.6:
        sents.append("Code is available at " + rng.choice(CODE_HOSTS).format(user=user, acr=acr) + ".")
    abstract = " ".join(sents)
    n_auth = rng.choices([3, 3, 2, 1], weights=[85, 5, 7, 3])[0]
    names: list[str] = []
    while len(names) < n_auth:
        a = rng.choices(authors, cum_weights=cum_weights)[0]
        if a not in names:
            names.append(a)
    truncated = n_auth == 1 or (n_auth == 3 and rng.random() < 0.95)
    year = rng.choices(YEARS, weights=YEAR_WEIGHTS)[0]
    month, day = rng.choice(MONTHS), rng.randint(1, 28)
    undated = rng.random() < 0.08  # listing dates without a year: the listing's own year (inferred)
    date = f"{month} {day}" if undated else f"{month} {day}, {year}"
    score = round(rng.uniform(30, 90), 1) if rng.random() < 0.15 else None
    kind = "untitled" if rng.random() < untitled else "listing"
    p = GenPaper(index=i, kind=kind, title=title, authors=names, truncated=truncated,
                 year=None if undated else year, year_inferred=undated, date=date,
                 category="cs." + rng.choices(CATS, weights=CAT_WEIGHTS)[0], has_code=has_code,
                 acronym=acr, abstract=abstract, score=score)
    if kind == "untitled":  # what ingest knows of an abstract with no listing entry
        p.authors, p.truncated, p.year, p.year_inferred, p.date, p.category, p.has_code = [], False, None, \
            False, None, None, False
    elif rng.random() < versions:
        p.versions.append(reword(abstract, rng))
    return p


def reword(text: str, rng: random.Random) -> str:
    """Another version of an abstract: a few words swapped, as the seed's other versions are."""
    out = text
    for a, b in rng.sample(REWORD, 4):
        out = re.sub(rf"\b{a}\b", b, out)
    return out if out != text else text.replace(". ", ". Moreover, ", 1)


def header(p: GenPaper) -> str:
    score = f"{p.score}" if p.score is not None else ""
    return f"{score}{p.category[3:]}{p.date}{'Code' if p.has_code else ''}"  # type: ignore[index]


def title_line(p: GenPaper) -> str:
    return p.title + ", ".join(p.authors) + (" et al." if p.truncated else "")


def generate(n: int, out: Path, seed: int = 0, per_file: int = 1000, versions: float = 0.05,
             untitled: float = 0.01, listing_year: int = 2026) -> dict[str, int]:
    """Write the corpus folder; returns counts. Existing corpus files in `out` are replaced."""
    seeds = load_seed()
    authors = author_pool(seed)
    cum = list(accumulate(1.0 / (r + 1) ** 0.85 for r in range(len(authors))))  # Zipf-like author weights
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for old in data.glob("*.txt"):
        old.unlink()
    counts: Counter[str] = Counter()
    manifest = (out / "manifest.jsonl").open("w", encoding="utf-8")
    papers_for_questions: list[GenPaper] = []
    for f_no, start in enumerate(range(0, n, per_file), start=1):
        batch = [make_paper(i, seed, seeds, authors, cum, versions, untitled)
                 for i in range(start, min(n, start + per_file))]
        listing = [p for p in batch if p.kind == "listing"]
        with (data / f"listing-{f_no:04d}.txt").open("w", encoding="utf-8") as fh:
            for p in listing:
                fh.write(f"{header(p)}\n{title_line(p)}\n{p.abstract}\n")
        extra = [v for p in listing for v in p.versions] + [p.abstract for p in batch if p.kind == "untitled"]
        random.Random(f"order-{seed}-{f_no}").shuffle(extra)
        if extra:
            with (data / f"abstracts-{f_no:04d}.txt").open("w", encoding="utf-8") as fh:
                for j, text in enumerate(extra):
                    fh.write(f"Abstract:{text}\n" + ("\n" if j % 3 == 2 else ""))
        for p in listing + [p for p in batch if p.kind == "untitled"]:
            d = asdict(p)
            if p.year_inferred:
                d["year"] = listing_year
            manifest.write(json.dumps(d, ensure_ascii=False) + "\n")
            counts[p.kind] += 1
            counts["versions"] += len(p.versions)
        papers_for_questions.extend(p for p in batch if p.kind == "listing")
    manifest.close()
    (out / "questions.json").write_text(json.dumps(make_questions(papers_for_questions, seed, listing_year),
                                                   indent=1, ensure_ascii=False))
    counts["papers"] = counts["listing"] + counts["untitled"]
    return dict(counts)


def make_questions(papers: list[GenPaper], seed: int, listing_year: int, n: int = 20) -> dict[str, list]:
    """Questions a user of a large collection would ask: topics (worded from abstracts and titles), a method
    by name (with the paper that answers it, for a hit@k sanity check), and metadata questions."""
    rng = random.Random(f"questions-{seed}")
    from rag.text import sentences

    topic = ["What has the group done on recommendation unlearning?", "Which papers deal with federated learning?",
             "Which work studies copyright in text-to-image models?", "Which papers rely on sharpness-aware "
             "minimization?", "How can fairness be calibrated in federated learning?",
             "What methods generate video from a still image?", "How do vision-language models handle puns?",
             "Which papers defend recommender systems against attribute inference attacks?"]
    while len(topic) < n:
        p = rng.choice(papers)
        s = rng.choice(sentences(p.abstract)[1:] or [p.abstract])
        words = re.findall(r"[A-Za-z][A-Za-z-]+", s)
        if len(words) >= 8:
            k = rng.randint(5, 8)
            j = rng.randrange(len(words) - k)
            topic.append("What work addresses " + " ".join(words[j:j + k]).lower() + "?")
    named = [{"question": f"What is {p.acronym}?", "title": p.title} for p in rng.sample(papers, n)]
    by_author: Counter[str] = Counter(a for p in papers for a in p.authors)
    common = [a for a, _ in by_author.most_common(50)]
    some = [a for a, c in by_author.items() if 2 <= c <= 20] or common
    meta = []
    for j in range(n):
        year = rng.choice(YEARS[-6:])
        form = j % 5
        if form == 0:
            meta.append(f"papers from {year} by {rng.choice(some)}")
        elif form == 1:
            meta.append(f"How many papers did {rng.choice(common)} co-author since {year}?")
        elif form == 2:
            meta.append(f"Which papers did {rng.choice(some)} publish in {year}?")
        elif form == 3:
            meta.append(f"cs.CR papers with code from {year}")
        else:
            meta.append(f"List the papers by {rng.choice(some)}")
    return {"topic": topic, "named": named, "metadata": meta}


def check(out: Path, listing_year: int = 2026) -> dict[str, int]:
    """Parse the corpus with the project's parser and compare every listing title/author split and header
    field to the manifest. Fast (no merge of versions, no embedding): ingest itself checks the count."""
    from ingest.papers import _known_names, split_title_authors
    from ingest.sources import ListingRecord, parse_file, source_files

    expected = [json.loads(line) for line in (out / "manifest.jsonl").open(encoding="utf-8")]
    listed = [e for e in expected if e["kind"] == "listing"]
    records, n_abstracts, errors = [], 0, []
    for f in source_files([out / "data"]):
        for rec in parse_file(f):
            if isinstance(rec, ListingRecord):
                records.append(rec)
            elif isinstance(rec, Exception):
                errors.append(str(rec))
            else:
                n_abstracts += 1
    known = _known_names(records)
    if len(records) != len(listed):
        errors.append(f"{len(records)} listing records, manifest has {len(listed)}")
    for rec, exp in zip(records, listed, strict=False):
        try:
            title, authors, truncated = split_title_authors(rec.title_line, known)
        except ValueError as exc:
            errors.append(f"{rec.path}:{rec.line + 1}: {exc}")
            continue
        got = (title, authors, truncated, rec.year or listing_year, rec.year is None, rec.category, rec.has_code)
        want = (exp["title"], exp["authors"], exp["truncated"], exp["year"], exp["year_inferred"], exp["category"],
                exp["has_code"])
        if got != want:
            errors.append(f"{rec.path}:{rec.line + 1}: parsed {got}, expected {want}")
    want_abstracts = sum(len(e["versions"]) for e in listed) + sum(e["kind"] == "untitled" for e in expected)
    if n_abstracts != want_abstracts:
        errors.append(f"{n_abstracts} abstract records, expected {want_abstracts}")
    if errors:
        raise SystemExit("corpus check failed:\n  " + "\n  ".join(errors[:20]))
    return {"listing_records": len(records), "abstract_records": n_abstracts, "expected_papers": len(expected)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, help="number of papers (listing + untitled)")
    ap.add_argument("--out", type=Path, help="corpus folder (default bench/out/corpus-<size>)")
    ap.add_argument("--sizes", help="comma-separated sizes among 1k,10k,100k (instead of --papers)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-file", type=int, default=1000, help="papers per listing file")
    ap.add_argument("--versions", type=float, default=0.05, help="share of papers with a reworded other version")
    ap.add_argument("--untitled", type=float, default=0.01, help="share of papers only in an abstracts file")
    ap.add_argument("--check", action="store_true", help="parse the result and compare it to the manifest")
    args = ap.parse_args(argv)
    jobs: list[tuple[int, Path]] = []
    if args.sizes:
        jobs = [(SIZES[s], OUT / f"corpus-{s}") for s in args.sizes.split(",")]
    elif args.papers:
        jobs = [(args.papers, args.out or OUT / f"corpus-{args.papers}")]
    else:
        ap.error("give --papers N or --sizes 1k,10k,100k")
    for n, out in jobs:
        counts = generate(n, out, args.seed, args.per_file, args.versions, args.untitled)
        print(f"{out}: {json.dumps(counts)}")
        if args.check:
            print(f"  check ok: {json.dumps(check(out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
