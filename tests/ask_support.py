"""Shared arrangements of the ask tests: a session with the fixture's documents cut into
passages, and helpers to ask over the real views."""

from django.test import override_settings

from questions.models import Question
from sessions_app.models import Document
from tests.ask_fixture import DOCUMENTS
from tests.base import AppTestCase

STREAM = {"accept": "text/event-stream"}


def add_document(session, name: str, text: str, position: int = 1) -> Document:
    document = Document.objects.create(
        session=session, original_name=name, size=len(text), position=position
    )
    document.mark_completed(text, [], page_count=text.count("\f") + 1 if "\f" in text else None)
    return document


class AskTestCase(AppTestCase):
    builder = "offline"

    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(QUESTION_BUILDER=self.builder, AI_RETRY_MAX_WAIT=0.01))
        self.session = self.make_session(title="Semester notes")
        for position, (name, text) in enumerate(DOCUMENTS.items(), start=1):
            add_document(self.session, name, text, position)
        self.url = f"/sessions/{self.session.pk}/ask"

    async def ask_stream(self, question: str, *, user=None, **params):
        await self.async_client.aforce_login(user or self.owner)
        return await self.async_client.get(self.url, {"q": question, **params}, headers=STREAM)

    async def questions(self) -> list[Question]:
        return [q async for q in Question.objects.filter(session=self.session)]
