import re

from django import forms
from django.contrib.auth.forms import UserCreationForm

from sessions_app.models import StudySession

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


class StudySessionForm(forms.ModelForm):
    class Meta:
        model = StudySession
        fields = ["title", "language"]
        widgets = {"language": forms.TextInput(attrs={"list": "language-choices"})}
        help_texts = {"language": "Plan titles are written in this language (e.g. en, de, pt-BR)."}

    def clean_title(self):
        title = " ".join(self.cleaned_data["title"].split())
        if not title:
            raise forms.ValidationError("Give the session a title.")
        return title

    def clean_language(self):
        language = normalize_language_tag(self.cleaned_data["language"])
        if language is None:
            raise forms.ValidationError("Use a language code such as en, de or pt-BR.")
        return language


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ["username"]
