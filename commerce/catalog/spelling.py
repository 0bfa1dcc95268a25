"""Typo tolerance for catalog search: a vocabulary of catalog words and corrections of query words against it.

The vocabulary is every word (letters and digits, at least ``MIN_WORD_LENGTH`` long, case-folded) of the titles,
brands and category names of public products. ``selectors.search_vocabulary()`` builds it with one query and
caches it; this module only works on it:

* :func:`corrections` (rapidfuzz, any database): for each query word the vocabulary does not contain (not even
  inside a longer word, since search matches substrings), the most similar vocabulary word whose
  ``fuzz.ratio`` (0-100, normalised Indel similarity) reaches the cut-off.
* :func:`pg_corrections` (PostgreSQL): the same, ranked by pg_trgm ``similarity()`` in one statement.

Words shorter than ``MIN_TERM_LENGTH`` are never corrected: with three letters nearly everything is "close".
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from rapidfuzz import fuzz, process

MIN_WORD_LENGTH = 3
MIN_TERM_LENGTH = 4
# rapidfuzz ratio from which a correction is searched as well as the word typed: "headphnes" -> "headphones" is
# 94.7, "kettel" -> "kettle" 83.3; "hedfones" -> "headphones" (77.8) is only suggested.
AUTO_CORRECT_SCORE = 80.0
# Looser: from here a correction is offered as ``did_you_mean`` when a search finds nothing.
SUGGEST_SCORE = 65.0
# pg_trgm similarity from which PostgreSQL offers a correction (pg_trgm's own default threshold).
PG_SUGGEST_SIMILARITY = 0.3

_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    """The case-folded words of ``text`` (runs of letters and digits)."""
    return _WORD.findall(text.casefold())


@dataclass(frozen=True)
class Vocabulary:
    """Sorted distinct words, and the same joined by newlines for fast substring checks in C."""

    words: tuple[str, ...]
    text: str

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Vocabulary":
        words = sorted({word for text in texts if text for word in words_of(text) if len(word) >= MIN_WORD_LENGTH})
        return cls(words=tuple(words), text="\n".join(words))

    def knows(self, term: str) -> bool:
        """Whether some vocabulary word contains ``term`` (a case-folded word without newlines)."""
        return term in self.text


def unknown_terms(terms: Sequence[str], vocabulary: Vocabulary) -> list[str]:
    """The case-folded query words worth correcting: long enough and found in no vocabulary word."""
    folded = [term.casefold() for term in terms]
    return [term for term in dict.fromkeys(folded) if len(term) >= MIN_TERM_LENGTH and not vocabulary.knows(term)]


def corrections(terms: Sequence[str], vocabulary: Vocabulary, *, score_cutoff: float) -> dict[str, str]:
    """``{term: word}`` for each unknown (case-folded) term with a vocabulary word at least ``score_cutoff``
    similar; ties go to the alphabetically first word, so the answer is stable."""
    out: dict[str, str] = {}
    for term in unknown_terms(terms, vocabulary):
        best = process.extractOne(term, vocabulary.words, scorer=fuzz.ratio, score_cutoff=score_cutoff)
        if best is not None:
            out[term] = best[0]
    return out


def pg_corrections(
    terms: Sequence[str], vocabulary: Vocabulary, *, min_similarity: float = PG_SUGGEST_SIMILARITY
) -> dict[str, str]:
    """Like :func:`corrections`, ranked by pg_trgm ``similarity()`` on PostgreSQL, in one statement."""
    unknown = unknown_terms(terms, vocabulary)
    if not unknown or not vocabulary.words:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.term, best.word
            FROM unnest(%s::text[]) AS t(term)
            CROSS JOIN LATERAL (
                SELECT v.word, similarity(v.word, t.term) AS score
                FROM unnest(%s::text[]) AS v(word)
                ORDER BY score DESC, v.word
                LIMIT 1
            ) AS best
            WHERE best.score >= %s
            """,
            [unknown, list(vocabulary.words), min_similarity],
        )
        return dict(cursor.fetchall())


def corrected_query(terms: Sequence[str], fixes: dict[str, str]) -> str:
    """The query with each corrected word replaced (case-folded, as the vocabulary is)."""
    return " ".join(fixes.get(term.casefold(), term.casefold()) for term in terms)
