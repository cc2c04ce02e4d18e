"""Plan languages: BCP-47 tags as learners and clients send them (SPEC §3)."""

import re

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|\d{3}))?$")

COMMON_LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("pt-BR", "Português (Brasil)"),
    ("pt-PT", "Português (Portugal)"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("sv", "Svenska"),
    ("tr", "Türkçe"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("ar", "العربية"),
    ("hi", "हिन्दी"),
    ("zh-Hans", "中文 (简体)"),
    ("ja", "日本語"),
    ("ko", "한국어"),
]


def normalize_language_tag(value: str) -> str | None:
    """`pt-br` → `pt-BR`, `zh-hans` → `zh-Hans`; None if it isn't a language tag we accept."""
    value = value.strip().replace("_", "-")
    if not _BCP47.match(value):
        return None
    parts = value.split("-")
    normalized = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4:
            normalized.append(part.title())
        else:
            normalized.append(part.upper())
    return "-".join(normalized)


def language_from_request(request) -> str:
    """The first acceptable tag of the request's Accept-Language header, else `en`."""
    weighted = []
    for index, item in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = item.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        normalized = normalize_language_tag(tag)
        if normalized and quality > 0:
            weighted.append((-quality, index, normalized))
    return min(weighted)[2] if weighted else "en"
