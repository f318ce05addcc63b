"""The value statement template, without I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.portfolio.statement import (
    clean_text,
    clean_values,
    compose_statement,
    compose_title,
    join_values,
)


def statement(values, motivation="", goal="", track="defender"):
    return compose_statement(clean_text(track), clean_values(values), clean_text(motivation),
                             clean_text(goal))


def test_full_statement_reads_as_one_paragraph():
    assert statement(["integrity", "curiosity"], "I like hard problems.", "Lead a SOC.") == (
        "I am driven by integrity and curiosity. I like hard problems. My goal: Lead a SOC. "
        "My track: defender."
    )


@pytest.mark.parametrize(
    ("values", "joined"),
    [(["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c"),
     ([str(i) for i in range(10)], "0, 1, 2, 3, 4, 5, 6, 7, 8 and 9")],
)
def test_one_to_ten_values_join_naturally(values, joined):
    assert join_values(clean_values(values)) == joined
    assert statement(values).startswith(f"I am driven by {joined}.")


def test_whitespace_is_trimmed_and_collapsed():
    assert statement(["  integrity ", "\tcuriosity\n"], "  I want\n\nto   help  ", " Grow ",
                     track=" grc ") == (
        "I am driven by integrity and curiosity. I want to help. My goal: Grow. My track: grc."
    )


def test_blank_and_repeated_values_are_dropped_keeping_the_first_spelling():
    assert clean_values(["Integrity", " ", "", "integrity", "Curiosity", "INTEGRITY "]) == (
        "Integrity", "Curiosity")


def test_blank_answers_leave_their_sentence_out():
    assert statement([" "], "", "  ") == "My track: defender."
    assert statement(["courage"], "", "Ship it") == (
        "I am driven by courage. My goal: Ship it. My track: defender.")
    assert statement([""], "", "", track=" ") == ""


def test_existing_sentence_ends_are_kept():
    assert statement(["x"], "Why not?", "Be the one!") == (
        "I am driven by x. Why not? My goal: Be the one! My track: defender.")


def test_title_names_the_track():
    assert compose_title("defender") == "Value statement — defender track"
    assert compose_title("") == "Value statement"


answers = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@given(values=st.lists(answers, min_size=1, max_size=10), motivation=answers, goal=answers,
       track=answers)
def test_deterministic_and_made_only_of_the_learners_words(values, motivation, goal, track):
    first = statement(values, motivation, goal, track)
    assert first == statement(list(values), motivation, goal, track)
    words = {w for w in first.split()}
    theirs = {w for text in [*values, motivation, goal, track] for w in text.split()}
    template = {"I", "am", "driven", "by", "and", "My", "goal:", "track:"}
    # Each word is the learner's, the template's, or one of theirs with "," or "." appended.
    for word in words:
        assert word in theirs | template or word[:-1] in theirs | template, word
    assert first == first.strip() and "  " not in first
