"""The small, documented vocabulary the question reader needs beyond the collection itself.

Everything paper-specific (titles, method names, authors, years, the acronyms an abstract defines) is read
from the catalog at load time. What cannot be read there lives here, and only that:

- FIELD_ABBREVIATIONS: abbreviations people type for research areas that abstracts spell out or never
  define ("FL", "recsys", "T2I"). Each expands to the words a paper would use. Any abbreviation the
  collection itself defines ("Large Language Models (LLMs)") is learnt from the text and need not be here.
- CATEGORY_ALIASES: names people use for the arXiv areas (the codes themselves are matched as codes).
- QUESTION_WORDS: words that shape a question about papers but say nothing about its subject ("write",
  "papers", "released"): they never become topic words. Ordinary English function words come from
  scikit-learn's ENGLISH_STOP_WORDS (a published list), not from here.
"""

from __future__ import annotations

FIELD_ABBREVIATIONS: dict[str, str] = {
    "fl": "federated learning",
    "recsys": "recommender systems",
    "rec": "recommendation",  # "LLM rec", "rec unlearning"
    "recs": "recommendations",
    "fed": "federated",  # "fed unlearning", as in FedAvg, FedRec
    "recsy": "recommender systems",
    "rs": "recommender systems",
    "llm": "large language models",
    "llms": "large language models",
    "mllm": "multimodal large language models",
    "mllms": "multimodal large language models",
    "lvlm": "large vision-language models",
    "lvlms": "large vision-language models",
    "vlm": "vision-language models",
    "vlms": "vision-language models",
    "t2i": "text-to-image",
    "i2i": "image-to-image",
    "i2v": "image-to-video",
    "t2v": "text-to-video",
    "rlhf": "reinforcement learning from human feedback",
    "rl": "reinforcement learning",
    "sam": "sharpness-aware minimization",
    "ood": "out-of-distribution",
    "kg": "knowledge graph",
    "kgs": "knowledge graphs",
    "mu": "machine unlearning",
    "dp": "differential privacy",
    "gnn": "graph neural networks",
    "gnns": "graph neural networks",
    "cf": "collaborative filtering",
    "dit": "diffusion transformer",
    "genai": "generative models",
    "mab": "multi-armed bandit",
    "ai": "artificial intelligence",
    "ml": "machine learning",
    "nlp": "natural language processing",
    "cv": "computer vision",
}

# arXiv code → names and short forms people use for it. "vision", "security", "language" and "AI" are also
# ordinary topic words, so every alias becomes a filter only where the question uses it as a category
# (next to a paper noun or a category word; see rag.linking.categories).
CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "cs.CV": ("computer vision", "vision", "cv"),
    "cs.IR": ("information retrieval", "ir"),
    "cs.LG": ("machine learning", "ml", "lg"),
    "cs.CL": ("computation and language", "natural language processing", "computational linguistics", "nlp", "cl"),
    "cs.AI": ("artificial intelligence", "ai"),
    "cs.CR": ("cryptography and security", "security and cryptography", "cryptography", "security", "crypto",
              "cr"),
}
CATEGORY_LABELS = {code: names[0] for code, names in CATEGORY_ALIASES.items()}

# Nouns that name papers ("machine learning papers", "papers in NLP") and words that name a category.
PAPER_NOUNS = ("papers", "paper", "works", "work", "publications", "publication", "articles", "article",
               "studies", "study", "preprints", "preprint", "research", "stuff", "ones", "entries")
CATEGORY_NOUNS = ("category", "categories", "area", "areas", "field", "section", "track", "subject", "arxiv")

QUESTION_WORDS = frozenset("""
paper papers work works publication publications article articles study studies preprint preprints research
entry entries stuff thing things item items one ones collection corpus listing library database list lists
group group's lab lab's team team's our we us my me i you your they their
write writes wrote written writing author authors authored authoring co-author co-authors coauthor coauthors
co-authored coauthored publish publishes published publishing release releases released releasing
show tell give find get list summarize summarise summary overview describe explain point cite citing
need want looking look search searching recommend suggest know help please thanks hi hello hey
everything anything something full complete entire whole every all any some many much few more most
done do does did doing topic topics subject subjects related relating regarding concerning cover covers
covered covering discuss discusses discussed address addresses addressed deal deals dealing focus focuses
focused about on kind sort type types piece pieces exist exists existing available year years date dated
came come out recent recently newest latest oldest earliest new old first second third last
day days month months date dates when just
name named called mean means stand stands acronym abbreviation
link links url
advisor supervisor professor boss colleague reviewer
compare compared comparing comparison versus vs differ differs difference differences contrast
use uses used using utilize utilizes employ employs
number count total overall altogether question questions ok okay different another whole also now again
cool great thank thanks anyway actually exactly
ask asks asked asking wonder wondering curious interested unrelated quick quickly mind remember recall heard
talk talks talking lets let say says said built build worked working works deal deals dealing tackle tackles
rely relies relied relying happen happens exist exists existed possible somebody someone anyone anybody whether aren isn weren wasn
category categories area areas field fields arxiv filed classified categorized categorised listed tagged
""".split())

ENGLISH_STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also although always am
among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at back
be became because become becomes becoming been before beforehand behind being below beside besides between
beyond bill both bottom but by call can cannot cant co con could couldnt cry de describe detail do done down
due during each eg eight either eleven else elsewhere empty enough etc even ever every everyone everything
everywhere except few fifteen fifty fill find fire first five for former formerly forty found four from front
full further get give go had has hasnt have he hence her here hereafter hereby herein hereupon hers herself
him himself his how however hundred i ie if in inc indeed interest into is it its itself keep last latter
latterly least less ltd made many may me meanwhile might mill mine more moreover most mostly move much must my
myself name namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere of
off often on once one only onto or other others otherwise our ours ourselves out over own part per perhaps
please put rather re same see seem seemed seeming seems serious several she should show side since sincere six
sixty so some somehow someone something sometime sometimes somewhere still such system take ten than that the
their them themselves then thence there thereafter thereby therefore therein thereupon these they thick thin
third this those though three through throughout thru thus to together too top toward towards twelve twenty
two un under until up upon us very via was we well were what whatever when whence whenever where whereafter
whereas whereby wherein whereupon wherever whether which while whither who whoever whole whom whose why will
with within without would yet you your yours yourself yourselves
""".split())
