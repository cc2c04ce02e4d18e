"""The offline plan builder: no network, no key, deterministic (SPEC §5).

A document's topics come from its own structure (plans.builders.offline.structure: the outline,
Markdown, numbered and "Chapter N:" headings, slide titles), or, for text without any, from
its key phrases (plans.builders.offline.keyphrases). They are merged into the current plan one at a
time by title similarity, so the learner's topics, titles and order stay as they are.
"""

import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from plans.builders.base import SourceDocument
from plans.builders.offline.keyphrases import fold_plural, key_phrases
from plans.builders.offline.readable import readable_text
from plans.builders.offline.structure import (
    DocumentTopic,
    arrange,
    outline_headings,
    slide_titles,
    text_headings,
    title_line,
)
from plans.builders.offline.titles import DIVISION_WORDS, clip
from plans.schema import MAX_SUBTOPICS, MAX_TEXT_LENGTH, MAX_TOPICS, Plan, normalize_plan

# An outline (PDF bookmarks, DOCX heading styles) with fewer entries says little: one
# bookmark is usually the document's own title; the text's headings are then read instead.
MIN_OUTLINE_ENTRIES = 3
MAX_KEY_PHRASES = 8

# Topic titles match when they mean the same thing: the same content words ("Introduction to
# limits" is "Limits"), enough of them shared (Jaccard ≥ 0.6, e.g. 4 of 5), one adding a
# single word to two or more it shares ("Linear regression" / "Linear regression models"),
# or the same words up to typos. One shared word is not enough: "Probability basics" and
# "Probability distributions", "Functions" and "Inverse functions" are different subjects.
# Numbers must agree ("Week 1" ≠ "Week 2").
TOPIC_MATCH = 0.6
CONTAINED_SCORE = 0.6
MIN_SHARED_TO_CONTAIN = 2
# Subtopics are deduplicated more strictly: "One-sided limits" and "Limits" both stay.
SUBTOPIC_MATCH = 0.8
# A typo is one edit (a letter added, left out, changed, or two swapped) in a word of at
# least 5 letters: "Fourier"/"Fourrier", never "asn1Coding"/"asn1Decoding".
TYPO_MIN_LENGTH = 5

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
# Casefolded: "Chapter 4:", "3.2", "IV.", "§ 2" in front of a title don't make it another topic.
_KEY_PREFIX = re.compile(
    rf"^(?:(?:{'|'.join(sorted(map(re.escape, DIVISION_WORDS), key=len, reverse=True))})"
    r"\s*(?:\d{1,3}(?:\.\d{1,3})*|[ivxlcdm]{1,7}|[a-z])\s*[:.\-\u2013\u2014)]+\s*"
    r"|\d{1,3}(?:\.\d{1,3})*\.?\s+|[ivxlcdm]{1,7}\.\s+)"
)


def _plain(text: str) -> str:
    """Without accents: "Einführung" and "Einfuhrung" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Words that don't tell one title from another: articles, prepositions, conjunctions…
_TITLE_STOPWORDS_TEXT = """a an the and or of to in on at for with by from into about vs versus
    der die das den dem des und oder von zu zum zur mit im am für über ein eine einer
    le la les l des du de d et ou en au aux un une pour sur
    el los las lo del y o con para por un una al sobre"""
_TITLE_STOPWORDS = frozenset(_plain(word) for word in _TITLE_STOPWORDS_TEXT.split())
# … and words that only say how a subject is treated ("Introduction to limits" is "Limits").
_BROAD_WORDS_TEXT = """introduction intro overview basics basic fundamentals review summary recap
    continued cont einführung einleitung überblick grundlagen zusammenfassung wiederholung
    aperçu résumé introducción resumen repaso fundamentos"""
_BROAD_WORDS = frozenset(_plain(word) for word in _BROAD_WORDS_TEXT.split())


def fold_document(
    plan: Plan, document: SourceDocument, dropped: list[str] | None = None
) -> Iterator[Plan]:
    """Merge `document`'s topics into `plan`, yielding the plan after each topic merged.

    The last yielded plan is the result; at least one plan is yielded, and a plan is only
    yielded when it differs from the previous one. Every yielded plan is valid and already
    normalised (normalize_plan returns it unchanged); the input plan is never mutated.
    Deterministic: the same input gives the same output.

    Nothing is cut silently (SPEC §5): a topic with more sections than a topic may hold
    has them grouped, a topic that no longer fits in a full plan joins the closest topic
    with room as a subtopic, and whatever still can't be placed is appended to `dropped`.
    """
    merger = _PlanMerger(normalize_plan(plan))
    changed_at_all = False
    for topic in itertools.chain.from_iterable(map(_fitting, document_topics(document))):
        if merger.add(topic):
            changed_at_all = True
            yield merger.plan()
    if not changed_at_all:
        yield merger.plan()
    if dropped is not None:
        dropped.extend(merger.dropped)


SUBTOPIC_SEPARATOR = "; "


def _fitting(topic: DocumentTopic) -> list[DocumentTopic]:
    """The topic with its subtopics grouped to fit; if even groups don't, it is split into
    parts ("Commands", "Commands (part 2)") that each fit."""
    subtopics = group_subtopics(topic.subtopics)
    if len(subtopics) <= MAX_SUBTOPICS:
        return [DocumentTopic(topic.title, subtopics)]
    return [
        DocumentTopic(
            topic.title if start == 0 else f"{topic.title} (part {start // MAX_SUBTOPICS + 1})",
            subtopics[start : start + MAX_SUBTOPICS],
        )
        for start in range(0, len(subtopics), MAX_SUBTOPICS)
    ]


def group_subtopics(subtopics: list[str], limit: int = MAX_SUBTOPICS) -> list[str]:
    """At most `limit` subtopics: neighbours grouped into one ("Boxes; Boxplot") when
    there are more, so a huge chapter keeps every section's name. A group that would pass
    the length of a title is not formed; what then doesn't fit is left for the caller to
    report (the list comes back longer than `limit`)."""
    titles = [clip(_WHITESPACE.sub(" ", title).strip()) for title in subtopics]
    titles = [title for title in titles if title]
    if len(titles) <= limit:
        return titles
    size = -(-len(titles) // limit)
    while size <= len(titles):
        groups = [
            SUBTOPIC_SEPARATOR.join(titles[start : start + size])
            for start in range(0, len(titles), size)
        ]
        if all(len(group) <= MAX_TEXT_LENGTH for group in groups):
            return groups
        # Long titles: group fewer where they are long, more where they are short.
        packed = _pack(titles, limit)
        if packed is not None:
            return packed
        size += 1
    return titles


def _pack(titles: list[str], limit: int) -> list[str] | None:
    """Neighbours packed greedily into groups of at most MAX_TEXT_LENGTH characters, if
    that makes `limit` groups or fewer."""
    groups: list[str] = []
    for title in titles:
        if groups and len(groups[-1]) + len(SUBTOPIC_SEPARATOR) + len(title) <= MAX_TEXT_LENGTH:
            groups[-1] += SUBTOPIC_SEPARATOR + title
        else:
            groups.append(title)
    return groups if len(groups) <= limit else None


def document_topics(document: SourceDocument) -> list[DocumentTopic]:
    """The topics one document contributes, in the document's order, before merging."""
    text = readable_text(document.text)
    entries = document.outline
    if text.slides and any(isinstance(e, dict) and e.get("source") == "layout" for e in entries):
        # Headings read from a slide deck's layout are its slide titles, in a type size
        # the body text doesn't set apart well; the slides themselves say more (below).
        entries = []
    outline = outline_headings(entries)
    topics = arrange(outline) if len(outline) >= MIN_OUTLINE_ENTRIES else []
    if not topics:
        topics = arrange(text_headings(text)) or arrange(outline)
    slides = slide_titles(text)
    if len(topics) == 1 and not topics[0].subtopics:
        # One heading over the whole document: its slides or key phrases say what's inside.
        inside = [title for page, title in slides if page > 0]
        topics[0].subtopics = inside or key_phrases(text.prose(), MAX_KEY_PHRASES)
    if topics:
        return topics
    if len(slides) >= 3:
        first_page, first_title = slides[0]
        if first_page == 0:  # the title slide
            return [DocumentTopic(first_title, [title for _, title in slides[1:]])]
        return [DocumentTopic(readable_name(document.name), [title for _, title in slides])]
    if not any(line.strip() for line in text.lines):
        return []
    title = title_line(text) or readable_name(document.name)
    return [DocumentTopic(title, key_phrases(text.prose(), MAX_KEY_PHRASES))]


def readable_name(name: str) -> str:
    """A file name as a title: "week2_notes.txt" → "Week 2 notes"."""
    stem = re.split(r"[\\/]", name)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    words = re.sub(r"[_\-.+]+", " ", stem)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words)  # camelCase
    words = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", words)  # week2
    words = _WHITESPACE.sub(" ", words).strip()
    if not words:
        return "Untitled document"
    return clip(words[:1].upper() + words[1:])


# --- comparing titles -----------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    """What a title says, for comparing: a function of the casefolded title only, so titles
    that differ only in case (which the plan treats as duplicates) always compare equal."""

    text: str
    words: frozenset[str]
    numbers: frozenset[str]


def _key(title: str) -> _Key:
    folded = _WHITESPACE.sub(" ", title.casefold()).strip()
    unprefixed = _KEY_PREFIX.sub("", folded, count=1)
    if any(ch.isalpha() for ch in unprefixed):
        folded = unprefixed
    tokens = _WORD.findall(_plain(folded))
    numbers = frozenset(token for token in tokens if token.isdigit())
    names = [(token, fold_plural(token)) for token in tokens if not token.isdigit()]
    words = frozenset(
        name
        for token, name in names
        if not {token, name} & _TITLE_STOPWORDS and not {token, name} & _BROAD_WORDS
    )
    if not words:  # "Introduction", "Lecture 3": every word counts
        words = frozenset(name for _, name in names)
    if not words and not numbers:  # symbols only
        words = frozenset([folded])
    return _Key(" ".join(sorted(words)) + "|" + " ".join(sorted(numbers)), words, numbers)


def _similarity(a: _Key, b: _Key) -> float:
    if a.text == b.text:
        return 1.0
    if a.numbers != b.numbers:
        return 0.0
    shared = len(a.words & b.words)
    score = shared / len(a.words | b.words)
    smaller, larger = sorted((len(a.words), len(b.words)))
    if shared == smaller >= MIN_SHARED_TO_CONTAIN and larger - smaller <= 1:
        score = max(score, CONTAINED_SCORE)
    if score < 1 and len(a.words) == len(b.words) and _differ_by_typos(a.words, b.words):
        score = max(score, 0.9)
    return score


def _differ_by_typos(a: frozenset[str], b: frozenset[str]) -> bool:
    """Each word only one side has is a typo of one only the other side has."""
    others = sorted(b - a)
    for word in sorted(a - b):
        match = next((other for other in others if _one_typo_apart(word, other)), None)
        if match is None:
            return False
        others.remove(match)
    return True


def _one_typo_apart(a: str, b: str) -> bool:
    """One letter added, left out, changed, or two neighbours swapped; not in numbers."""
    if min(len(a), len(b)) < TYPO_MIN_LENGTH or abs(len(a) - len(b)) > 1:
        return False
    if any(ch.isdigit() for ch in a + b):  # "asn1", "x86", "utf8": names, not words
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    a, b = a[start:], b[start:]
    if start == 0:  # a typo at a word's first letter is rare; "Boxes" and "Foxes" differ
        return False
    if len(a) == len(b):
        return a[1:] == b[1:] or (len(a) >= 2 and a[0] == b[1] and a[1] == b[0] and a[2:] == b[2:])
    return a[1:] == b or b[1:] == a


# --- merging into the plan ------------------------------------------------------------


@dataclass
class _Topic:
    title: str
    key: _Key
    subtopics: list[str]
    subtopic_keys: list[_Key]
    before_document: bool  # in the plan before this document: the learner's or earlier ones
    earlier_subtopics: int = 0  # how many of the subtopics were there before this document


class _PlanMerger:
    def __init__(self, plan: Plan):
        self.topics = [
            _Topic(t["title"], _key(t["title"]), list(t["subtopics"]), [], before_document=True)
            for t in plan
        ]
        self.by_key: dict[str, _Topic] = {}
        self.by_subtopic_key: dict[str, _Topic] = {}
        for topic in self.topics:
            topic.subtopic_keys = [_key(sub) for sub in topic.subtopics]
            topic.earlier_subtopics = len(topic.subtopics)
            self.by_key.setdefault(topic.key.text, topic)
            for key in topic.subtopic_keys:
                self.by_subtopic_key.setdefault(key.text, topic)
        self.last_touched: _Topic | None = None
        self.dropped: list[str] = []  # titles that could not be placed within the bounds

    def plan(self) -> Plan:
        return [
            {"order_index": index, "title": topic.title, "subtopics": list(topic.subtopics)}
            for index, topic in enumerate(self.topics, start=1)
        ]

    def add(self, incoming: DocumentTopic) -> bool:
        """Merge one topic; return whether the plan changed."""
        title = clip(_WHITESPACE.sub(" ", incoming.title).strip())
        if not title:
            return False
        key = _key(title)
        # Within one document its author's own division is kept: only identical titles
        # merge there. Similar titles merge with what was in the plan before.
        target = (
            self.by_key.get(key.text)
            or self._most_similar(key, TOPIC_MATCH, earlier=True)
            # A subject the plan already has as a subtopic grows there, not beside it.
            or self.by_subtopic_key.get(key.text)
        )
        changed = False
        if target is not None:
            self.by_key.setdefault(key.text, target)
            same = key.words <= target.key.words or (
                len(key.words) == len(target.key.words)
                and _differ_by_typos(key.words, target.key.words)
            )
            if not same:  # narrower or different: keep its name
                changed |= self._add_subtopic(target, title)
        elif len(self.topics) < MAX_TOPICS:
            target = _Topic(title, key, [], [], before_document=False)
            self.topics.append(target)
            self.by_key[key.text] = target
            changed = True
        else:
            # The plan is full: the topic becomes a subtopic of the closest topic with room,
            # else of the one this document last added to, and its own subtopics follow it
            # there while there is room; what doesn't fit is reported as dropped.
            target = self._most_similar(key, 1e-9, with_room=True)
            if target is None and self.last_touched is not None:
                target = self.last_touched
            if target is None:
                self.dropped.extend([title, *incoming.subtopics])
                return False
            self.last_touched = target
            changed = self._add_subtopic(target, title)
            for subtopic in incoming.subtopics:
                changed |= self._add_subtopic(target, subtopic)
            return changed
        for subtopic in incoming.subtopics:
            changed |= self._add_subtopic(target, subtopic)
        self.last_touched = target
        return changed

    def _most_similar(
        self, key: _Key, threshold: float, earlier: bool = False, with_room: bool = False
    ) -> "_Topic | None":
        best, best_score = None, 0.0
        for topic in self.topics:  # the earliest wins a tie
            if earlier and not topic.before_document:
                continue
            if with_room and len(topic.subtopics) >= MAX_SUBTOPICS:
                continue
            score = _similarity(key, topic.key)
            if score >= threshold and score > best_score:
                best, best_score = topic, score
        return best

    def _add_subtopic(self, topic: _Topic, text: str) -> bool:
        text = clip(_WHITESPACE.sub(" ", text).strip())
        if not text:
            return False
        key = _key(text)
        if key.text == topic.key.text:
            return False
        # Like topics, the document's own subtopics stay apart unless identical ("Boxes"
        # and "Foxes", "Xerrorbars" and "Yerrorbars"); similar ones merge with earlier ones.
        earlier = topic.subtopic_keys[: topic.earlier_subtopics]
        own = topic.subtopic_keys[topic.earlier_subtopics :]
        if any(key.text == other.text for other in own) or any(
            _similarity(key, other) >= SUBTOPIC_MATCH for other in earlier
        ):
            return False
        if len(topic.subtopics) >= MAX_SUBTOPICS:
            self.dropped.append(text)
            return False
        topic.subtopics.append(text)
        topic.subtopic_keys.append(key)
        return True
