from asgiref.testing import ApplicationCommunicator
from django.test import SimpleTestCase

from ai.transport import shared_http_client
from studyplanner.asgi import application


class LifespanTests(SimpleTestCase):
    async def test_server_shutdown_closes_the_shared_ai_client(self):
        client = shared_http_client()  # as a generation would have opened it
        communicator = ApplicationCommunicator(application, {"type": "lifespan"})

        await communicator.send_input({"type": "lifespan.startup"})
        self.assertEqual(
            await communicator.receive_output(timeout=5), {"type": "lifespan.startup.complete"}
        )
        self.assertFalse(client.is_closed)
        await communicator.send_input({"type": "lifespan.shutdown"})
        self.assertEqual(
            await communicator.receive_output(timeout=5), {"type": "lifespan.shutdown.complete"}
        )

        self.assertTrue(client.is_closed)
        self.assertIsNot(shared_http_client(), client)  # a later use gets a fresh one
        await shared_http_client().aclose()
