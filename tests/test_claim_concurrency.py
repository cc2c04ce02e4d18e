import threading
import unittest

from django.db import connection, connections

from sessions_app.models import GenerationRefused, StudySession
from tests.base import AppTransactionTestCase


@unittest.skipUnless(
    connection.vendor == "postgresql", "needs PostgreSQL (run with DATABASE_URL=postgres://...)"
)
class ConcurrentClaimTests(AppTransactionTestCase):
    def test_exactly_one_of_ten_simultaneous_claims_wins(self):
        session = self.make_session()
        self.make_document(session)
        contenders = [StudySession.objects.get(pk=session.pk) for _ in range(10)]
        barrier = threading.Barrier(len(contenders), timeout=30)
        outcomes: list[str] = []
        lock = threading.Lock()

        def claim(mine: StudySession):
            try:
                connection.ensure_connection()  # connect first, so the claims really collide
                barrier.wait()
                mine.claim_for_generation()
                result = f"won:{mine.generation_token}"
            except GenerationRefused as refused:
                result = refused.reason
            except Exception as error:  # recorded, so the assertion below shows it
                result = f"crashed:{error!r}"
            finally:
                connections.close_all()
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=claim, args=(mine,)) for mine in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        winners = [o for o in outcomes if o.startswith("won:")]
        self.assertEqual(len(winners), 1, outcomes)
        self.assertEqual(outcomes.count("already_generating"), 9, outcomes)
        session.refresh_from_db()
        self.assertEqual(f"won:{session.generation_token}", winners[0])
