"""Plan titles: cleaning a heading's text into one, clipping long text, telling whether
a line reads like a title (not a sentence, date, URL or code), and which titles name
what isn't study material. Used across the offline plan builder.

The words that introduce a numbered division ("Chapter 4:", "Vorlesung 3 -") are here too:
a title is cleaned of them, and the rest of the builder finds and compares headings by them.
"""

import re

from plans.schema import MAX_TEXT_LENGTH

# --- words that introduce a numbered division -----------------------------------------

PART_WORDS = {"part", "teil", "partie", "parte", "deel"}
CONTAINER_WORDS = {
    "chapter", "unit", "module", "week", "appendix",
    "kapitel", "einheit", "modul", "woche", "anhang",
    "chapitre", "unité", "semaine", "annexe",
    "capítulo", "capitulo", "unidad", "módulo", "semana", "anexo", "apéndice", "apendice",
    "capitolo", "unità", "settimana", "appendice",
    "unidade", "hoofdstuk",
}  # fmt: skip
_LESSON_WORDS = {
    "lecture", "lesson", "session", "section", "topic",
    "vorlesung", "lektion", "abschnitt", "thema", "sitzung",
    "cours", "leçon", "lecon", "séance", "seance", "thème", "theme",
    "clase", "lección", "leccion", "sección", "seccion", "tema", "sesión", "sesion",
    "lezione", "sezione", "argomento",
    "aula", "lição", "licao", "seção", "secção", "sessão", "§",
}  # fmt: skip
# Words that introduce a numbered division: "Chapter 4: Derivatives", "Vorlesung 3 - …".
DIVISION_WORDS = PART_WORDS | CONTAINER_WORDS | _LESSON_WORDS
_NUMBER = r"\d{1,3}(?:\.\d{1,3}){0,3}|[IVXLCDM]{1,7}|[ivxlcdm]{1,7}|[A-Z]"
KEYWORD_LINE = re.compile(
    rf"(?P<word>§(?=\s*\d)|[^\W\d_]+(?=\s))\s*(?P<number>{_NUMBER})(?=$|[\s:.\-\u2013\u2014)])"
    r"\s*(?P<separator>[:.\-\u2013\u2014)]+\s*)?(?P<rest>.*)$"
)
_KEYWORD_PREFIX = re.compile(
    rf"^(?i:{'|'.join(sorted(map(re.escape, DIVISION_WORDS), key=len, reverse=True))})"
    # The separator must be followed by a space: "Week 1. Limits", but not "week1.md".
    rf"\s*(?:{_NUMBER})(?:[:.\-\u2013\u2014)]+(?:\s+|$)|(?P<bare>)(?=\s|$))\s*"
)

# --- what a title is not --------------------------------------------------------------

_URL = re.compile(r"https?://|www\.|\S@\S+\.\w")
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december|januar|februar|märz|mai|juni|juli|"
    "oktober|dezember|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|"
    "novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
    "octubre|noviembre|diciembre"
)
_DATE = re.compile(
    rf"(?i:(?:\d{{1,2}}\.?\s*)?(?:{_MONTHS})\.?(?:\s*\d{{1,2}})?,?(?:\s*\d{{4}})?)"
    r"|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
)
_CODE = re.compile(
    r"==|!=|<=|>=|=>|->|::|&&|\|\||\+=|\+\+|[{};]\s*$|^\s*[{}]|^\s*(?:\$|>>>|\.\.\.|//|/\*)\s"
    r"|^\s*[A-Za-z_][\w.\[\]]*\s*=\s*\S|^\s*[A-Za-z_][\w.]*\(.*\)\s*$"
    r"|^\s*(?:import\s+[\w.]+(?:\s+as\s+\w+)?\s*$|from\s+[\w.]+\s+import\s)"
    r"|^\s*(?:def|class|for|if|elif|else|while|try|except|with|return|import|from|function|"
    r"var|let|const|public|private|static|void|int|#include|#define)\b.*[(:=;]\s*$"
)

# Headings of what isn't study material — front and back matter, the closing slides — are
# dropped with everything under them. They stay in the document, for questions.
_NOT_STUDY_MATERIAL = {
    # English
    "contents", "table of contents", "toc", "index", "bibliography", "references",
    "reference list", "works cited", "further reading", "acknowledgements", "acknowledgments",
    "acknowledgement", "acknowledgment", "list of figures", "list of tables",
    "about the author", "about the authors", "copyright", "copyrights", "copyright notice",
    "cover", "title page", "preface", "foreword", "dedication", "questions", "any questions",
    "thank you", "thanks", "q&a", "q & a", "agenda", "outline", "author", "authors",
    "contributors", "contributor", "credits", "licence", "license", "licences", "licenses",
    "copying", "copying information", "copying conditions", "gnu licenses", "gnu licences",
    "changelog", "change log", "changes", "release notes", "revision history", "older news",
    "document history", "version history", "news", "see also", "colophon",
    # German
    "inhalt", "inhaltsverzeichnis", "literatur", "literaturverzeichnis", "quellen",
    "quellenverzeichnis", "danksagung", "abbildungsverzeichnis", "tabellenverzeichnis",
    "stichwortverzeichnis", "sachverzeichnis", "register", "vorwort", "fragen",
    "vielen dank", "gliederung", "autor", "autoren", "mitwirkende", "lizenz", "lizenzen",
    "änderungen", "versionshinweise", "siehe auch", "impressum",
    # French
    "sommaire", "table des matières", "bibliographie", "références", "remerciements",
    "préface", "avant-propos", "merci", "plan du cours", "index alphabétique", "auteur",
    "auteurs", "contributeurs", "notes de version", "voir aussi",
    # Spanish, Portuguese, Italian
    "índice", "indice", "bibliografía", "referencias", "agradecimientos", "contenido",
    "contenidos", "prólogo", "prefacio", "gracias", "preguntas", "autores", "colaboradores",
    "licencia", "licencias", "notas de la versión", "véase también", "índice alfabético",
    "referências", "bibliografia", "agradecimentos", "sumário", "licença", "prefácio",
    "riferimenti", "ringraziamenti", "licenza", "sommario", "prefazione",
}  # fmt: skip
# "Function and variable index", "Concept Index", "Index of commands", "GNU Free
# Documentation License", "GNU General Public License", "Copying information"…
_BACK_MATTER = re.compile(
    r"(?:(?:function|functions|variable|variables|concept|concepts|data|subject|general|"
    r"command|commands|program|programs|option|options|keyword|keywords|name|names|type|"
    r"types|symbol|symbols|macro|macros|author|method|methods|class|classes|api|"
    r"alphabetical|and|&|,)\s*){1,5}(?:index|indexes|indices)"
    r"|(?:general\s+|alphabetical\s+)?index\s+of\s+[\w\s&,-]{1,60}"
    r"|(?:the\s+)?(?:gnu\s+)?(?:(?:lesser|library|affero)\s+)?(?:general\s+public|free\s+"
    r"documentation)\s+licen[cs]e(?:\s+\(?[\w.\s]{0,20}\)?)?"
    r"|(?:gnu|bsd|mit|apache|software|documentation|open\s+publication)\s+licen[cs]es?"
    r"|licen[cs]es?\s+(?:and|&)\s+copyright|copying\s+(?:and|&)\s+licen[cs]e"
    r"|(?:authors?|contributors)\s+(?:and|&)\s+(?:contributors|acknowledge?ments|credits)"
    r"|(?:bibliography|references)\s+(?:and|&)\s+further\s+reading",
    re.IGNORECASE,
)
# An appendix or part label in front of a title: "A", "B", "III", "Appendix C", "Part II".
LABEL = re.compile(
    r"^(?:(?i:appendix|appendices|part|book|anhang|teil|annexe|partie|apéndice|anexo|parte)"
    r"\s+)?(?P<label>[A-Z]|[IVXLC]{1,7}|\d{1,3}(?:\.\d{1,3})*)[.:)]?\s+(?=\S)"
)

# --- titles ---------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060\ufeff\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(
    r"(\*\*|\*|~~|`)(?=\S)(.+?)(?<=\S)\1|(?<!\w)(__|_)(?=\S)(.+?)(?<=\S)\3(?!\w)"
)
# Markup in a heading: inline formatting tags, and any tag with an attribute
# (<a id="x"></a>). A bare <canvas> or List<T> is what the heading is about: kept.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|br|cite|code|del|dfn|em|font|i|img|ins|kbd|mark|q|s|samp|small|span"
    r"|strike|strong|sub|sup|tt|u|var|wbr)\b[^>]*>"
    r"|<[A-Za-z][\w-]*\s+[\w:-]+\s*=[^>]*>",
    re.IGNORECASE,
)
_ATTRIBUTES = re.compile(r"\s*\{[#.][^}]*\}\s*$")
_LEADERS = re.compile(r"\s*(?:[.·…_]\s*){3,}\d*$")
_NUMBER_PREFIX = re.compile(
    r"^(?:\d{1,3}(?:\.\d{1,3})+\.?\)?|\d{1,3}(?:[.)]|(?P<bare>))|[IVXLCDM]{1,7}\."
    r"|[A-Z](?:\.\d{1,3})+\.?"  # an appendix's sections: "A.1 Configuration file"
    r"|[A-Z][.)](?=\s+[A-Z]))\s+(?=\S)"
)
_CONTINUED = re.compile(
    r"\s*(?:\((?:cont(?:\.|inued|'d|\u2019d)?|fortsetzung|forts\.|suite|cont\.?)\)"
    r"|[-\u2013\u2014:]\s*(?:continued|fortsetzung|suite))\s*$",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION = re.compile(r"^[\s\-\u2013\u2014•·*:>|]+|[\s.:;,\-\u2013\u2014|]+$")


def clean_title(raw: str) -> str:
    """A heading's text as a plan title: markup, numbering and leaders gone, ≤ 200 chars."""
    # A heading is short; what isn't is cut first, so no pattern below works on a long text.
    text = _INVISIBLE.sub("", raw[: 2 * MAX_TEXT_LENGTH])
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _ATTRIBUTES.sub("", text)
    for _ in range(2):  # nested emphasis: ***x***
        text = _MD_EMPHASIS.sub(lambda m: m.group(2) or m.group(4), text)
    text = _WHITESPACE.sub(" ", text).strip()
    text = _LEADERS.sub("", text)
    text = _EDGE_PUNCTUATION.sub("", text)
    for prefix in (_KEYWORD_PREFIX, _NUMBER_PREFIX):
        match = prefix.match(text)
        if not match:
            continue
        rest = text[match.end() :]
        bare = match.group("bare") is not None  # no ":" or "." after the number
        # "Week 2 review" and "10 things to know" keep their number: it is part of the title.
        if has_letters(rest) and not (bare and rest[:1].islower()):
            text = rest
    text = _CONTINUED.sub("", text)
    text = _EDGE_PUNCTUATION.sub("", text)
    return clip(text)


def clip(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """Cut to `limit` characters at a word boundary, marking the cut with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"


def has_letters(text: str) -> bool:
    return sum(ch.isalpha() for ch in text) >= 2


def reads_like_title(text: str, max_words: int = 12, max_length: int = 120) -> bool:
    """Short, starting with a capital or digit, mostly letters, not a sentence, date or code."""
    if not text or len(text) > max_length or len(text.split()) > max_words:
        return False
    first = next((ch for ch in text if ch.isalnum()), "")
    if not first or first.islower():
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 2 or letters < 0.5 * len(text.replace(" ", "")):
        return False
    if text[-1] in ".,;" or _URL.search(text) or is_date(text):
        return False
    return not looks_like_code(text)


def is_date(text: str) -> bool:
    return bool(_DATE.fullmatch(text)) and any(ch.isdigit() for ch in text)


def looks_like_code(line: str) -> bool:
    return bool(_CODE.search(line)) or sum(line.count(ch) for ch in "=[]<>;{}") >= 3


def is_junk(title: str) -> bool:
    """Front or back matter, not study material: "Index", "A Copying Information", "GNU
    Free Documentation License", "3. Contributors", "AUTHORS"."""
    for text in (title, LABEL.sub("", title, count=1)):
        folded = " ".join(text.casefold().split()).rstrip("?!.: ")
        if folded in _NOT_STUDY_MATERIAL or _BACK_MATTER.fullmatch(folded):
            return True
    return False
