"""Shared arrangements: three users (the owner, another learner, staff) and small factories."""

import threading

from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import TestCase, TransactionTestCase

from sessions_app.models import Document, StudySession

User = get_user_model()

SAMPLE_PLAN = [
    {
        "order_index": 1,
        "title": "Limits",
        "subtopics": ["Epsilon-delta definition", "One-sided limits"],
    },
    {"order_index": 2, "title": "Derivatives", "subtopics": ["Product rule"]},
]


class Factories:
    def make_session(self, owner=None, **fields) -> StudySession:
        fields.setdefault("title", "Calculus I")
        fields.setdefault("language", "en")
        return StudySession.objects.create(owner=owner or self.owner, **fields)

    def make_document(
        self, session, name="notes.md", text="# Limits\n\nText.", **fields
    ) -> Document:
        fields.setdefault("status", Document.Status.COMPLETED)
        fields.setdefault("position", session.documents.count() + 1)
        return Document.objects.create(
            session=session, original_name=name, content_text=text, size=len(text), **fields
        )


def _make_users(cls):
    # No passwords: hashing one costs ~0.5 s; tests log in with force_login.
    cls.owner = User.objects.create_user("owner")
    cls.other = User.objects.create_user("other")
    cls.staff = User.objects.create_user("staff", is_staff=True, is_superuser=True)


class AppTestCase(Factories, TestCase):
    @classmethod
    def setUpTestData(cls):
        _make_users(cls)


class AppTransactionTestCase(Factories, TransactionTestCase):
    """For work that must really commit: other threads, other connections, the ASGI app."""

    def setUp(self):
        _make_users(self)


def run_at_once(actions: list) -> list:
    """Run each callable on its own thread, all released at the same moment; their results
    in order (an exception is returned, not raised, so a test can show it). Each thread
    connects to the database before the start so the calls really collide."""
    barrier = threading.Barrier(len(actions), timeout=30)
    results: list = [None] * len(actions)

    def run(index, action):
        try:
            connection.ensure_connection()
            barrier.wait()
            results[index] = action()
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
