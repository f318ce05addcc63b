"""The value statement template: the learner's own answers in one fixed shape (pure).

Only the learner's words and their track go in; nothing is invented, so the hub never puts
words in a learner's mouth. Whitespace is normalised (trimmed, runs collapsed to one space);
blank or repeated core values (case-insensitive, first spelling kept) are dropped; a sentence
whose answer is blank is left out, and so the statement of all-blank answers is only the track.
"""

from __future__ import annotations

from collections.abc import Iterable

SENTENCE_END = (".", "!", "?", "…")


def clean_text(text: str) -> str:
    return " ".join(text.split())


def clean_values(values: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    kept: list[str] = []
    for value in map(clean_text, values):
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return tuple(kept)


def join_values(values: tuple[str, ...]) -> str:
    """"a", "a and b", "a, b and c"."""
    if len(values) <= 1:
        return "".join(values)
    return f"{', '.join(values[:-1])} and {values[-1]}"


def sentence(text: str) -> str:
    return text if text.endswith(SENTENCE_END) else f"{text}."


def compose_statement(
    track: str, core_values: tuple[str, ...], motivation: str, impact_goal: str
) -> str:
    """"I am driven by integrity and curiosity. <motivation> My goal: <impact goal> My track:
    defender." from already cleaned answers (`clean_values`, `clean_text`)."""
    parts = []
    if core_values:
        parts.append(sentence(f"I am driven by {join_values(core_values)}"))
    if motivation:
        parts.append(sentence(motivation))
    if impact_goal:
        parts.append(sentence(f"My goal: {impact_goal}"))
    if track:
        parts.append(sentence(f"My track: {track}"))
    return " ".join(parts)


def compose_title(track: str) -> str:
    return f"Value statement — {track} track" if track else "Value statement"
