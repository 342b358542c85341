"""Defences against prompt injection through the corpus and against leaks in LLM output.

Abstracts are data, but anyone can put "Ignore previous instructions…" into one. The system prompt tells the
model to treat sources as data; on top of that, sentences that address an AI assistant are taken out of the
sources before they reach the model (and reported), and the model's reply is scrubbed of the API key and
of the system prompt in case a model obeys an injection anyway."""

from __future__ import annotations

import re

from rag.text import sentences

INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}\b(?:instructions?|prompts?|rules|directions)\b|"
    r"\b(?:system|developer) (?:prompt|message|instructions?)\b|"
    r"\b(?:you are now|from now on,? you|as an ai(?: language model)?|act as (?:an?|the) (?:ai|assistant|chatbot))\b|"
    r"^\W*(?:please\s+)?(?:respond|reply|answer|output|print|say|write)\b[^.!?]{0,30}\bonly\b|"
    r"\breveal\b[^.!?]{0,30}\b(?:prompt|key|instructions?|secret)s?\b",
    re.I,
)
REDACTED = "[redacted]"


def without_instructions(text: str) -> tuple[str, int]:
    """The text minus sentences that give orders to an AI; and how many were removed."""
    kept, removed = [], 0
    for s in sentences(text):
        if INSTRUCTION.search(s):
            removed += 1
        else:
            kept.append(s)
    return (" ".join(kept), removed) if removed else (text, 0)


REMOVED_SENTENCE = "[instruction-like sentence removed]"


def redact_instructions(text: str) -> str:
    """The text with every sentence that gives orders to an AI replaced by a marker, in place, so the rest
    of a snippet (and the highlights that point into it) stays as it was. Snippets are shown word for word
    in JSON, the API and source cards: a planted order must not travel through them either."""
    for s in sentences(text):
        if INSTRUCTION.search(s):
            text = text.replace(s, REMOVED_SENTENCE)
    return text


def scrub(reply: str, secrets: list[str], prompt: str) -> tuple[str, bool]:
    """The reply without any secret or any line of the system prompt; and whether anything was removed."""
    out = reply
    for secret in secrets:
        if secret and len(secret) >= 8:
            out = out.replace(secret, REDACTED)
    for line in prompt.splitlines():
        line = line.strip()
        if len(line) >= 30 and line in out:
            out = out.replace(line, REDACTED)
    return out, out != reply


class ScrubbedStream:
    """Scrubs a streamed reply as it arrives. A secret may be split across pieces, so the last few characters
    (as many as the longest thing scrubbed) are held back until more text, or the end, shows what they are.
    Earlier text never changes once emitted: a replacement only touches text that is still held back."""

    def __init__(self, secrets: list[str], prompt: str) -> None:
        self.secrets, self.prompt = secrets, prompt
        lengths = [len(s) for s in secrets if s and len(s) >= 8]
        lengths += [len(line.strip()) for line in prompt.splitlines() if len(line.strip()) >= 30]
        self.hold = max(lengths, default=0)
        self.raw = ""
        self.emitted = 0
        self.scrubbed = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        clean, changed = scrub(self.raw, self.secrets, self.prompt)
        self.scrubbed |= changed
        end = max(self.emitted, len(clean) - self.hold)
        out, self.emitted = clean[self.emitted:end], end
        return out

    def flush(self) -> str:
        clean, changed = scrub(self.raw, self.secrets, self.prompt)
        self.scrubbed |= changed
        out, self.emitted = clean[self.emitted:], len(clean)
        return out

    @property
    def text(self) -> str:
        return scrub(self.raw, self.secrets, self.prompt)[0]
