"""Plan builders: given the current plan and one document, produce the updated plan.

`offline` reads the document's own structure (no network); `openrouter` asks a model.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceDocument:
    """What a builder gets of one document.

    `text` is the extracted text (see sessions_app.models.Document.content_text for its
    markers); `outline` holds headings found by extraction — PDF bookmarks or DOCX heading
    styles — as [{"level": 1, "title": "Limits", "page": 3}, ...] (page may be None).
    """

    name: str
    text: str
    outline: list[dict] = field(default_factory=list)
