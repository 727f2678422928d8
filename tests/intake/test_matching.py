"""The matcher (tracker/intake/matching.py): explainable, gated on the parties, the
same on every database."""

from __future__ import annotations

import pytest

from commitments.models import Commitment
from tracker.intake import matching, seeds
from tracker.intake.matching import KeywordRow, Matcher
from tracker.intake.models import Keyword


@pytest.fixture
def matcher(agreements) -> Matcher:
    seeds.load()
    return Matcher.from_db()


def keys(matches) -> list[str]:
    return [m.commitment for m in matches]


def test_an_item_naming_japan_gets_the_us_japan_commitment_with_its_words(matcher):
    matches = matcher.match(
        "Japan and US to explore joint stockpiling of rare earths",
        "Officials said Tokyo and Washington would consider a mutually complementary "
        "stockpiling arrangement. The weather was fine.",
    )
    best = matches[0]
    assert (best.agreement, best.commitment) == ("us-japan-critical-minerals-2025", "stockpiling")
    assert "stockpiling arrangement" in best.terms
    assert (
        "Officials said Tokyo and Washington would consider a mutually complementary "
        "stockpiling arrangement."
    ) in best.sentences
    assert "The weather was fine." not in best.sentences


def test_the_party_gate_keeps_an_item_naming_neither_japan_nor_a_japanese_body_out(matcher):
    text = (
        "The United States and China agreed to consider a mutually complementary "
        "stockpiling arrangement for critical minerals and rare earths."
    )
    assert matcher.match("US and China talk stockpiles", text, min_score=0) == []
    with_meti = matcher.match("", text + " METI officials attended.", min_score=0)
    assert with_meti[0].commitment == "stockpiling"


def test_a_party_name_is_not_a_topic(matcher):
    """'Ministry of Economy, Trade and Industry' opens the gate; its words do not
    count as news about trade measures."""
    matches = matcher.match(
        "", "Japan's Ministry of Economy, Trade and Industry announced a reshuffle.", min_score=0
    )
    assert matches  # the gate is open ...
    for match in matches:  # ... but the ministry's name scores nothing
        assert not {"ministry", "economy", "trade", "industry"} & set(match.terms)


def test_a_staff_keyword_lifts_its_commitment(agreements):
    plain = Matcher.from_db(min_score=0)
    text = "Japan confirmed the Kamaishi seabed survey with American scientists."
    before = {m.commitment: m.score for m in plain.match("", text)}
    mapping = Commitment.objects.get(key="geological-mapping")
    Keyword.objects.create(commitment=mapping, phrase="seabed survey", weight=2)
    after = Matcher.from_db(min_score=0).match("", text)
    assert after[0].commitment == "geological-mapping"
    assert after[0].score > before.get("geological-mapping", 0)
    assert "seabed survey" in after[0].terms


def test_a_negative_keyword_of_an_agreement_pushes_its_items_down(agreements):
    text = "Japan and the US discussed a stockpiling arrangement at the baseball game."
    before = Matcher.from_db(min_score=0).match("", text)[0].score
    japan = Commitment.objects.get(key="stockpiling").agreement
    Keyword.objects.create(agreement=japan, phrase="baseball game", negative=True)
    after = Matcher.from_db(min_score=0).match("", text)
    assert not after or after[0].score < before


def test_below_the_threshold_nothing_is_suggested(matcher):
    assert matcher.match("Japan", "Japan is an island nation.") == []


def test_ties_are_broken_by_the_commitment_so_the_order_never_varies():
    built = Matcher.build(
        agreements=[(1, "a", ["US", "JP"])],
        commitments=[(2, 1, "second", "Recycling cooperation"), (1, 1, "first", "Recycling")],
        texts={1: [("recycling", 3.0)], 2: [("recycling", 3.0)]},
        min_score=0,
    )
    assert keys(built.match("", "Japan recycling news.")) == ["first", "second"]


def test_sentences_split_on_full_stops_and_lines():
    text = "Japan said so. The U.S. agreed!\nA new line “Quoted.” Then more."
    assert matching.sentences(text) == [
        "Japan said so.",
        "The U.S. agreed!",
        "A new line “Quoted.”",
        "Then more.",
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [("stockpiling", "stockpile"), ("permits", "permitting"), ("recycled", "recycling")],
)
def test_the_stemmer_meets_word_forms(a, b):
    assert matching.stem(a) == matching.stem(b)


def test_keyword_rows_build_without_a_database():
    built = Matcher.build(
        agreements=[(1, "us-jp", ["US", "JP"])],
        commitments=[(10, 1, "pricing", "Pricing measures")],
        texts={10: [("Pricing measures", 3.0)]},
        keywords=[KeywordRow("price floor", commitment_id=10, weight=2.0)],
        min_score=0,
    )
    (match,) = built.match("", "Japan backs a price floor.")
    assert "price floor" in match.terms
