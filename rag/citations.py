"""Citation markers: parse [n], [n, m] and [n-m]; keep the numbers that were given as sources, remove
(and report) the others. Numbers are not renumbered, so a streamed answer and the final one agree."""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d+(?:\s*(?:,|-|–)\s*\d+)*)\]")


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*,\s*", group):
        if re.search(r"[-–]", part):
            a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            out.extend(range(a, b + 1) if 0 < b - a < 20 else [a, b])
        else:
            out.append(int(part))
    return out


def check(text: str, valid: int) -> tuple[str, list[int], list[int]]:
    """→ (text with invalid numbers removed and ranges expanded to [a][b], cited numbers in order of first
    use, invalid numbers). Sources 1..valid were given."""
    order: list[int] = []
    invalid: list[int] = []

    def sub(m: re.Match[str]) -> str:
        keep = []
        for n in _numbers(m.group(1)):
            if 1 <= n <= valid:
                if n not in order:
                    order.append(n)
                if n not in keep:
                    keep.append(n)
            elif n not in invalid:
                invalid.append(n)
        return "".join(f"[{k}]" for k in keep)

    out = MARKER.sub(sub, text)
    out = re.sub(r"[ \t]+([.,;:])", r"\1", out)
    return out, order, invalid
