from django import forms
from django.contrib.auth.forms import UserCreationForm

from sessions_app.languages import normalize_language_tag
from sessions_app.models import StudySession


class StudySessionForm(forms.ModelForm):
    class Meta:
        model = StudySession
        fields = ["title", "language"]
        widgets = {"language": forms.TextInput(attrs={"list": "language-choices"})}
        help_texts = {"language": "Plan titles are written in this language (e.g. en, de, pt-BR)."}

    def _require_text(self, name: str) -> None:
        """A JSON body can hold a list or a number where a form holds text: refuse it
        instead of storing its repr ("['a', 'b']")."""
        value = self.data.get(self.add_prefix(name))
        if value is not None and not isinstance(value, str):
            raise forms.ValidationError("This field must be text.")

    def clean_title(self):
        self._require_text("title")
        title = " ".join(self.cleaned_data["title"].split())
        if not title:
            raise forms.ValidationError("Give the session a title.")
        return title

    def clean_language(self):
        self._require_text("language")
        language = normalize_language_tag(self.cleaned_data["language"])
        if language is None:
            raise forms.ValidationError("Use a language code such as en, de or pt-BR.")
        return language


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ["username"]
