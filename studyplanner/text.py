"""Text that can be stored and shown: no NUL characters, no lone UTF-16 surrogates.

PostgreSQL refuses both (a NUL in text or jsonb, a surrogate can't be encoded as UTF-8), so
every entrance either removes them (`strip_unstorable`: extracted text, model output, plan
titles) or refuses the request with a 400 (`has_unstorable`: JSON bodies).
"""

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def has_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def strip_unstorable(text: str) -> str:
    return _UNSTORABLE.sub("", text)
