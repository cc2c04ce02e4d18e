"""Key phrases of unstructured text: the offline builder's subtopics when there are no headings.

Candidates are runs of content words (one to three words, cut at stop-words, punctuation
and line ends), counted with simple plural folding. A phrase scores its count times a
weight that favours multi-word phrases (they name concepts: "chain rule", "linked list");
a phrase mostly seen inside a better one is left out. The chosen phrases come back in the
order the document first uses them, which is usually the order it teaches them.
"""

import functools
import itertools
import re
from collections import Counter, defaultdict

from plans.builders.offline.titles import clip

_STOPWORDS = {
    "en": """
        a about above across after again against all almost along already also although
        always am among an and another any anyone anything are around as at away back be
        became because become becomes been before being below between both but by can
        cannot could did do does doing done down during each either else enough etc even
        ever every few first for from further get gets getting given gives go goes going
        got had has have having he her here hers herself him himself his how however i if
        in into is it its itself just last least less let like likely made make makes many
        may maybe me might more most mostly much must my myself need needs never new next
        no nor not now of off often on once one only onto or other others otherwise our
        ours ourselves out over own per perhaps quite rather really same see seen several
        shall she should show shown shows since so some something sometimes still such
        take takes than that the their theirs them themselves then there therefore these
        they thing things this those though three through thus to together too toward two
        under until up upon us use used uses using usually very via was way ways we well
        were what whatever when where whether which while who whom whose why will with
        within without would yes yet you your yours yourself yourselves called call second
        third want wants whereas i.e e.g eg ie vs able around important example examples
        figure fig table chapter section page pages lecture slide slides note notes today
        week let's it's don't doesn't isn't aren't can't won't we'll we're you're they're
        i'm there's that's here's what's
    """,
    "de": """
        aber alle allem allen aller alles als also am an ander andere anderen anderer
        anderes auch auf aus bei beim bin bis bist da dabei damit dann das dass dem den
        denn der des dessen dich die dies diese diesem diesen dieser dieses dir doch dort
        du durch ein eine einem einen einer eines einige er es etwa etwas euch euer für
        gegen gibt hab habe haben hat hatte hier hin hinter ich ihm ihn ihnen ihr ihre im
        immer in indem ins ist ja jede jedem jeden jeder jedes jetzt kann kein keine
        können könnte man manche mehr mein meine mit muss musste nach nicht nichts noch
        nun nur ob oder ohne sehr sein seine sich sie sind so solche soll sollte sondern
        sowie über um und uns unser unter viel vom von vor wann war waren warum was weil
        welche welchem welchen welcher welches wenn wer werden wie wieder will wir wird
        wo wurde wurden zu zum zur zwar zwei zwischen beispiel abbildung kapitel seite
        folie vorlesung abschnitt heute bzw z.b usw gilt gelten heißt sei seien gib gibt
        geben lässt kann können muss müssen soll sollen wurde worden daher somit dabei
        hierbei jedoch nämlich beim also siehe
    """,
    "fr": """
        à afin ai ainsi alors au aucun aussi autre aux avec avoir car ce ceci cela celle
        celui ces cet cette chaque chez comme comment dans de des deux donc dont du elle
        elles en encore entre est et été être eux fait faire il ils je la le les leur
        leurs lui ma mais me même mes moi mon ne ni non nos notre nous on ont ou où par
        parce pas peu peut plus pour pourquoi quand que quel quelle quelles quels qui sa
        sans se selon ses si son sont sous sur ta te tes toi ton tous tout toute toutes
        très tu un une vers vos votre vous y c'est d'un d'une l'on qu'il exemple
        chapitre cours aujourd'hui
    """,
    "es": """
        a al algo algunos ante antes como con contra cual cuando de del desde donde dos
        durante e el ella ellas ellos en entre era es esa ese eso esta está están este
        esto estos fue ha hay la las le les lo los más me mi mucho muy nada ni no nos o
        otra otro para pero poco por porque que quien se sea según ser si sí sin sobre
        son su sus también tan te tiene tienen todo todos tu un una uno unos y ya
        ejemplo figura capítulo página tema hoy
    """,
}
STOPWORDS = {language: frozenset(words.split()) for language, words in _STOPWORDS.items()}

_ADDRESS = re.compile(r"(?<!\S)\S*(?:://|@|www\.)\S*")  # web and mail addresses
_TOKEN = re.compile(
    r"([^\W\d_]+(?:['\u2019\-][^\W\d_]+)*)"  # a word, hyphens and apostrophes inside
    r"|\d[\d.,]*|[^\w\s]+|_+"  # anything else breaks a phrase
)
_WEIGHT = {1: 1.0, 2: 2.5, 3: 3.0}
_MIN_WORDS = 80  # below this, how often a word occurs says nothing
_SHORT_TEXT_WORDS = 1000
_MAX_CHARACTERS = 400_000  # enough to characterise a document; keeps a whole book fast


def detect_language(words: list[str]) -> str:
    """The stop-word language most of these (casefolded) words belong to; English on a tie."""
    hits = {language: sum(w in stop for w in words) for language, stop in STOPWORDS.items()}
    return max(hits, key=lambda language: (hits[language], language == "en"))


@functools.lru_cache(maxsize=65536)
def fold_plural(word: str) -> str:
    """A crude singular, the same for "limit"/"limits" and "property"/"properties"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def key_phrases(text: str, limit: int = 8) -> list[str]:
    """Up to `limit` characteristic phrases of `text`, in the order the text first uses them."""
    runs, word_count = _content_runs(_sample(text))
    if word_count < _MIN_WORDS:
        return []
    counts: Counter[tuple[str, ...]] = Counter()
    first_seen: dict[tuple[str, ...], int] = {}
    position = len(runs) + sum(len(run) for run in runs)
    # Backwards, so that the earliest occurrence of a phrase is the one written last.
    for run in reversed(runs):
        keys = [key for key, _ in run]
        size = len(keys)
        position -= size + 1
        grams = [
            *((key,) for key in keys),
            *itertools.pairwise(keys),
            *zip(keys, keys[1:], keys[2:], strict=False),
        ]
        starts = [*range(size), *range(size - 1), *range(size - 2)]
        counts.update(grams)
        first_seen.update(
            zip(reversed(grams), [position + s for s in reversed(starts)], strict=True)
        )

    def score(gram: tuple[str, ...]) -> float:
        return counts[gram] * _WEIGHT[len(gram)]

    # A single word must recur more than a phrase does to count as characteristic, unless
    # the text is short (and German or Dutch name many concepts in one word).
    single_word_count = 2 if word_count < _SHORT_TEXT_WORDS else 3
    candidates = [
        gram
        for gram, count in counts.items()
        if count >= 2 and (len(gram) > 1 or (count >= single_word_count and len(gram[0]) >= 4))
    ]
    candidates.sort(key=lambda gram: (-score(gram), first_seen[gram], gram))
    chosen: list[tuple[str, ...]] = []
    for gram in candidates:
        if len(chosen) == limit:
            break
        if any(_redundant(gram, other, counts) for other in chosen):
            continue
        chosen.append(gram)
    chosen.sort(key=first_seen.__getitem__)
    surfaces = _surfaces(runs, set(chosen))
    return [clip(_sentence_case(surfaces[gram])) for gram in chosen]


def _sample(text: str) -> str:
    """The whole text, or evenly spread slices of it when it is very long (deterministic)."""
    if len(text) <= _MAX_CHARACTERS:
        return text
    pieces = 8
    size = _MAX_CHARACTERS // pieces
    step = len(text) // pieces
    return "\n".join(text[i * step : i * step + size] for i in range(pieces))


def _content_runs(text: str) -> tuple[list[list[tuple[str, str]]], int]:
    """Runs of (key, surface) content words between stop-words and punctuation, and the
    number of words in the text."""
    lines = _ADDRESS.sub(" | ", text).split("\n")
    sample = [m.group(1).casefold() for m in _TOKEN.finditer(" ".join(lines[:400])) if m.group(1)]
    language = detect_language(sample)
    stop = STOPWORDS["en"] | STOPWORDS[language]
    runs = []
    word_count = 0
    for line in lines:
        run: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(line):
            word = match.group(1)
            word_count += bool(word)
            folded = word.casefold() if word else ""
            if (
                not word
                or folded in stop
                or len(word) < 2
                or (len(word) == 2 and not word.isupper())
            ):
                if run:
                    runs.append(run)
                    run = []
                continue
            run.append((fold_plural(folded), word))
        if run:
            runs.append(run)
    return runs, word_count


def _redundant(gram: tuple[str, ...], chosen: tuple[str, ...], counts: Counter) -> bool:
    """A phrase inside a chosen one, or one that mostly repeats a chosen shorter phrase."""
    if _contains(chosen, gram):
        return True
    return _contains(gram, chosen) and counts[gram] * 2 >= counts[chosen]


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    size = len(shorter)
    return any(longer[i : i + size] == shorter for i in range(len(longer) - size + 1))


def _surfaces(runs, wanted: set[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """The spelling each phrase has most often in the text (the earliest on a tie)."""
    spellings: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    sizes = {len(gram) for gram in wanted}
    for run in runs:
        keys = tuple(key for key, _ in run)
        for size in sizes:
            for start in range(len(keys) - size + 1):
                gram = keys[start : start + size]
                if gram in wanted:
                    spellings[gram][" ".join(word for _, word in run[start : start + size])] += 1
    return {gram: counter.most_common(1)[0][0] for gram, counter in spellings.items()}


def _sentence_case(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:] if phrase[:1].islower() else phrase
