"""Which tracked commitments an item bears on, and why: lexical and explainable.

Each commitment is a bag of word stems drawn from what the record says of it (its
title, milestones, summary, quoted passages and log entries, and the phrases staff keep
for it as ``Keyword``; the weights below), each stem weighed by its inverse document
frequency over the commitments: a stem found in every commitment says little.

An item is read sentence by sentence (the title is one more sentence). A sentence
scores, for each commitment, ``idf × weight`` summed over the stems they share, plus a
bonus per staff phrase it contains (a negative phrase, a recurring "not relevant"
reason, takes its weight off); the item's score is its best sentence plus half the
second and a quarter of the third. So one sentence that says "a price floor for rare
earths" outweighs a page that mentions minerals, mining and Japan in passing.

**The party gate.** Every agreement here is between the United States and one other
party; an item bears on an agreement only if it names that party or one of its bodies
(``PARTY_ALIASES``, and the agreement's own keywords), so an item about US–China talks
suggests nothing from the US–Japan framework however many words it shares with it.

Everything is computed in Python over rows read once (``Matcher.from_db``), so SQLite
and PostgreSQL give the same figures. No model is downloaded and no service is called.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from commitments.models import Agreement, Commitment, LogEntry, Source

# Names an item may use for a party or its bodies (lower case, matched as words).
PARTY_ALIASES: dict[str, tuple[str, ...]] = {
    "JP": (
        "japan",
        "japanese",
        "tokyo",
        "takaichi",
        "ishiba",
        "akazawa",
        "meti",
        "jogmec",
        "jbic",
        "nexi",
        "japan bank for international cooperation",
        "ministry of economy, trade and industry",
    ),
    "AU": (
        "australia",
        "australian",
        "australians",
        "canberra",
        "albanese",
        "madeleine king",
        "export finance australia",
        "critical minerals facility",
    ),
    "MY": ("malaysia", "malaysian", "kuala lumpur", "putrajaya", "anwar", "tengku zafrul"),
    "TH": ("thailand", "thai", "bangkok", "anutin"),
}
HOME_PARTY = "US"

TITLE_WEIGHT = 3.0
MILESTONE_WEIGHT = 2.0
SUMMARY_WEIGHT = 2.0
PASSAGE_WEIGHT = 1.0
KEYWORD_WEIGHT = 3.0
PHRASE_BONUS = 4.0
ITEM_TITLE_FACTOR = 1.5
SENTENCE_DECAY = (1.0, 0.5, 0.25)
MAX_SUGGESTIONS = 5
# A suggestion below this score is not shown (tuned on tests/data; see README).
DEFAULT_MIN_SCORE = 25.0

_STOPWORDS = """a about above after again against all also am an and any are as at be because
    been before being below between both but by can could did do does doing down during
    each few for from further had has have having he her here hers him his how i if in
    into is it its itself just me more most my no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their theirs
    them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours said
    says say new one two three first last year years month months week day days
    percent per mr ms mrs may might must shall us u s"""
STOPWORDS = frozenset(_STOPWORDS.split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# After a full stop (and a closing quote or bracket), before a capital or a digit.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)]))\s+(?=[\"'“‘(]?[A-Z0-9])")


def stem(word: str) -> str:
    """A light suffix stripper (plural, -ing, -ed, -ment, final e), the same for the
    item and the commitments, so "stockpiling" meets "stockpile" and "permits"
    meets "permitting". Not a linguist's stemmer: a predictable one."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix, keep in (("ing", 4), ("ed", 4), ("ment", 5)):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep - 1:
            w = w[: -len(suffix)]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    """Lower-case words; hyphens and dashes separate words ("rare-earth")."""
    text = text.lower().replace("’", "'").replace("&", " and ")
    return [w.removesuffix("'s") for w in _WORD.findall(re.sub(r"[-–—/]", " ", text))]


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit()]


def sentences(text: str) -> list[str]:
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            out += [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]
    return out


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    first, rest = needle[0], tuple(needle[1:])
    return any(
        word == first and tuple(haystack[i + 1 : i + n]) == rest
        for i, word in enumerate(haystack[: len(haystack) - n + 1])
    )


@dataclass
class Phrase:
    text: str
    stems: tuple[str, ...]
    weight: float
    negative: bool = False


@dataclass
class Target:
    """One commitment as the matcher sees it."""

    id: int
    agreement_id: int
    agreement_slug: str
    key: str
    title: str
    weights: dict[str, float] = field(default_factory=dict)  # stem -> field weight
    phrases: list[Phrase] = field(default_factory=list)


@dataclass
class Gate:
    """An agreement's other party, as an item may name it."""

    aliases: list[tuple[str, ...]]  # word sequences, any of which opens the gate
    negative: list[Phrase] = field(default_factory=list)


@dataclass
class Match:
    commitment_id: int
    agreement: str
    commitment: str
    title: str
    score: float
    sentences: list[str]
    terms: list[str]


@dataclass
class KeywordRow:
    phrase: str
    negative: bool = False
    weight: float = 1.0
    agreement_id: int | None = None
    commitment_id: int | None = None


class Matcher:
    """Built once from the record (``from_db``), then asked about many items."""

    def __init__(
        self,
        targets: list[Target],
        gates: dict[int, Gate],
        min_score: float = DEFAULT_MIN_SCORE,
    ) -> None:
        self.targets = {t.id: t for t in targets}
        self.gates = gates
        self.min_score = min_score
        # Every party's names, longest first: masked out of the words that are scored.
        self.aliases = sorted(
            {tuple(words(a)) for codes in PARTY_ALIASES.values() for a in codes},
            key=lambda a: (-len(a), a),
        )
        df = Counter(s for t in targets for s in t.weights)
        n = len(targets)
        self.idf = {s: math.log((n + 1) / (d + 0.5)) for s, d in df.items()}
        # stem -> agreement -> [(commitment id, idf × weight)]: a sentence touches only
        # its own stems, in the agreements whose gate it opened.
        self.postings: dict[str, dict[int, list[tuple[int, float]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for t in targets:
            for s, w in t.weights.items():
                self.postings[s][t.agreement_id].append((t.id, self.idf[s] * w))
        # first word -> [(alias, the agreements it opens)]: one pass over an item.
        self.gate_index: dict[str, list[tuple[tuple[str, ...], set[int]]]] = defaultdict(list)
        opens: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for pk, gate in gates.items():
            for alias in gate.aliases:
                if alias:
                    opens[alias].add(pk)
        for alias, pks in opens.items():
            self.gate_index[alias[0]].append((alias, pks))

    # --- Building ---------------------------------------------------------------------

    @classmethod
    def from_db(cls, *, min_score: float | None = None) -> Matcher:
        """Reads every current commitment with its milestones, sources, log entries and
        keywords, in a handful of queries whatever their number."""
        from django.conf import settings

        from .models import Keyword

        agreements = {
            a.pk: a
            for a in Agreement.objects.filter(archived_at__isnull=True).prefetch_related("parties")
        }
        commitments = list(
            Commitment.objects.filter(archived_at__isnull=True, agreement_id__in=agreements)
            .prefetch_related("milestones")
            .order_by("agreement_id", "number", "id")
        )
        texts: dict[int, list[tuple[str, float]]] = defaultdict(list)
        for c in commitments:
            texts[c.pk] += [(c.title, TITLE_WEIGHT), (c.summary, SUMMARY_WEIGHT)]
            texts[c.pk] += [
                (m.title, MILESTONE_WEIGHT) for m in c.milestones.all() if m.archived_at is None
            ]
        milestone_owner = {m.pk: c.pk for c in commitments for m in c.milestones.all()}
        for cid, mid, passage in Source.objects.filter(passage__gt="", kind="quote").values_list(
            "commitment_id", "milestone_id", "passage"
        ):
            owner = cid or milestone_owner.get(mid)
            if owner is not None:
                texts[owner].append((passage, PASSAGE_WEIGHT))
        for cid, mid, text, passage in LogEntry.objects.filter(
            archived_at__isnull=True
        ).values_list("commitment_id", "milestone_id", "text", "source_passage"):
            owner = cid or milestone_owner.get(mid)
            if owner is not None:
                texts[owner] += [(text, PASSAGE_WEIGHT), (passage, PASSAGE_WEIGHT)]
        keywords = [
            KeywordRow(k.phrase, k.negative, k.weight, k.agreement_id, k.commitment_id)
            for k in Keyword.objects.all()
        ]
        return cls.build(
            agreements=[
                (a.pk, a.slug, [p.code for p in a.parties.all()]) for a in agreements.values()
            ],
            commitments=[(c.pk, c.agreement_id, c.key, c.title) for c in commitments],
            texts=texts,
            keywords=keywords,
            min_score=settings.TRACKER_INTAKE_MIN_SCORE if min_score is None else min_score,
        )

    @classmethod
    def build(
        cls,
        *,
        agreements: Iterable[tuple[int, str, list[str]]],
        commitments: Iterable[tuple[int, int, str, str]],
        texts: dict[int, list[tuple[str, float]]],
        keywords: Iterable[KeywordRow] = (),
        min_score: float = DEFAULT_MIN_SCORE,
    ) -> Matcher:
        """The matcher from plain values (``from_db`` reads them; the benchmark makes
        them up)."""
        slugs, gates = {}, {}
        for pk, slug, codes in agreements:
            slugs[pk] = slug
            aliases = [
                tuple(words(alias))
                for code in codes
                if code != HOME_PARTY
                for alias in PARTY_ALIASES.get(code, ())
            ]
            gates[pk] = Gate(aliases)
        targets = []
        for pk, agreement_id, key, title in commitments:
            target = Target(pk, agreement_id, slugs[agreement_id], key, title)
            for text, weight in texts.get(pk, []):
                for s in stems(text or ""):
                    target.weights[s] = max(weight, target.weights.get(s, 0.0))
            targets.append(target)
        by_id = {t.id: t for t in targets}
        for k in keywords:
            phrase = Phrase(k.phrase, tuple(stems(k.phrase)), k.weight, k.negative)
            if not phrase.stems:
                continue
            if k.commitment_id is not None and k.commitment_id in by_id:
                target = by_id[k.commitment_id]
                target.phrases.append(phrase)
                if not k.negative:
                    for s in phrase.stems:
                        target.weights[s] = max(KEYWORD_WEIGHT, target.weights.get(s, 0.0))
            elif k.agreement_id is not None and k.agreement_id in gates:
                gate = gates[k.agreement_id]
                if k.negative:
                    gate.negative.append(phrase)
                else:
                    gate.aliases.append(tuple(words(k.phrase)))
        return cls(targets, gates, min_score)

    # --- Asking -----------------------------------------------------------------------

    def open_agreements(self, item_words: Sequence[str]) -> set[int]:
        found: set[int] = set()
        for i, word in enumerate(item_words):
            for alias, pks in self.gate_index.get(word, ()):
                if tuple(item_words[i : i + len(alias)]) == alias:
                    found |= pks
        return found

    def match(
        self,
        title: str,
        text: str,
        *,
        agreement_ids: Iterable[int] | None = None,
        limit: int = MAX_SUGGESTIONS,
        min_score: float | None = None,
    ) -> list[Match]:
        """The commitments the item bears on, best first, each with the sentences and
        terms that matched; empty when nothing reaches ``min_score``. Ties are broken
        by the commitment's id, so the order is the same on every database."""
        floor = self.min_score if min_score is None else min_score
        units = [(title, ITEM_TITLE_FACTOR)] if title.strip() else []
        units += [(s, 1.0) for s in sentences(text)]
        open_ = self.open_agreements(words(f"{title}\n{text}"))
        if agreement_ids is not None:
            open_ &= set(agreement_ids)
        if not open_:
            return []
        per_target: dict[int, list[tuple[float, int, set[str]]]] = defaultdict(list)
        surface: dict[str, str] = {}
        for index, (sentence, factor) in enumerate(units):
            for score, tid, found in self._score_sentence(sentence, factor, open_, surface):
                per_target[tid].append((score, index, found))
        matches = []
        for tid, scored in per_target.items():
            scored.sort(key=lambda row: (-row[0], row[1]))
            total = sum(d * row[0] for d, row in zip(SENTENCE_DECAY, scored, strict=False))
            if total < floor:
                continue
            target = self.targets[tid]
            best = [row for row in scored[: len(SENTENCE_DECAY)] if row[0] > 0]
            terms = sorted({t for row in best for t in row[2]})
            matches.append(
                Match(
                    tid,
                    target.agreement_slug,
                    target.key,
                    target.title,
                    total,
                    [units[row[1]][0] for row in best],
                    terms,
                )
            )
        matches.sort(key=lambda m: (-round(m.score, 6), m.commitment_id))
        return matches[:limit]

    def _topic_words(self, sentence: str) -> list[str]:
        """The sentence's words that say what it is about: stopwords, numbers and the
        parties' names are left out ("Ministry of Economy, Trade and Industry" opens
        the US–Japan gate; it is not news about trade measures)."""
        all_words = words(sentence)
        masked: set[int] = set()
        for alias in self.aliases:
            n = len(alias)
            for i in range(len(all_words) - n + 1):
                if all_words[i] == alias[0] and tuple(all_words[i : i + n]) == alias:
                    masked.update(range(i, i + n))
        return [
            w
            for i, w in enumerate(all_words)
            if i not in masked and w not in STOPWORDS and not w.isdigit()
        ]

    def _score_sentence(
        self, sentence: str, factor: float, open_: set[int], surface: dict[str, str]
    ) -> list[tuple[float, int, set[str]]]:
        raw = self._topic_words(sentence)
        seq = [stem(w) for w in raw]
        for w, s in zip(raw, seq, strict=True):
            surface.setdefault(s, w)
        scores: dict[int, float] = defaultdict(float)
        terms: dict[int, set[str]] = defaultdict(set)
        for s in set(seq):
            by_agreement = self.postings.get(s)
            if not by_agreement:
                continue
            for agreement_id in open_ & by_agreement.keys():
                for tid, weight in by_agreement[agreement_id]:
                    scores[tid] += weight
                    terms[tid].add(surface[s])
        penalty = {
            pk: sum(
                p.weight * PHRASE_BONUS for p in self.gates[pk].negative if _contains(seq, p.stems)
            )
            for pk in open_
        }
        out = []
        for tid in list(scores):
            target = self.targets[tid]
            for phrase in target.phrases:
                if _contains(seq, phrase.stems):
                    sign = -1.0 if phrase.negative else 1.0
                    scores[tid] += sign * phrase.weight * PHRASE_BONUS
                    if not phrase.negative:
                        terms[tid].add(phrase.text.lower())
            score = (scores[tid] - penalty.get(target.agreement_id, 0.0)) * factor
            if score > 0:
                out.append((score, tid, terms[tid]))
        return out
