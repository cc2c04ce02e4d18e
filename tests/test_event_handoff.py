"""An event reaches its watchers before the generation goes on (SPEC §13: `started` within
50 ms whatever the document sizes): what follows an event may be the builder's own work on
the event loop — reading a long document into its prompt — which must not hold it back."""

from plans import live
from plans.builders.offline import OfflineBuilder
from plans.stream import GenerationStream
from tests.base import AppTestCase


class WatchedOfflineBuilder(OfflineBuilder):
    """The offline builder, noting what the watcher had received when each fold began (the
    moment a real builder starts its synchronous work on the document)."""

    def __init__(self, received: list):
        super().__init__()
        self.received = received
        self.received_at_fold: list[list[str]] = []

    async def fold(self, plan, document, *, language):
        self.received_at_fold.append(list(self.received))
        async for step in super().fold(plan, document, language=language):
            yield step


class EventHandoffTests(AppTestCase):
    async def test_the_watcher_has_each_event_before_the_builder_starts_on_a_document(self):
        session = await self.amake_session()
        received: list[str] = []
        builder = WatchedOfflineBuilder(received)

        watch = await live.start(session, builder=builder, language="en")
        stream = GenerationStream(watch, session_id=session.pk, html=False)
        async for chunk in stream:
            for line in chunk.splitlines():
                if line.startswith("event: "):
                    received.append(line.removeprefix("event: "))
            if "event: completed" in chunk:
                break

        self.assertEqual(received[-1], "completed")
        # Before the first document: `started` and the "Reading document 1" progress; before
        # the second, the first one's end (the next "Reading" progress waits for its pacing).
        self.assertEqual(builder.received_at_fold[0], ["started", "progress"])
        self.assertEqual(builder.received_at_fold[1][-1], "document_processed")

    async def amake_session(self):
        from asgiref.sync import sync_to_async

        def make():
            session = self.make_session()
            for number in (1, 2):
                self.make_document(session, name=f"l{number}.md", text=f"# Topic {number}\n\nT.")
            return session

        return await sync_to_async(make)()
