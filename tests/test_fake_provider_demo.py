"""The fake provider runs on its own (`python -m tests.fakes.provider`), so anyone can watch
the AI path without a key: it answers a fold request with a real plan, streamed."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
from django.test import SimpleTestCase

from plans.prompts import fold_prompt
from tests.e2e.support import free_port

ROOT = Path(__file__).resolve().parents[1]


class FakeProviderOnItsOwnTests(SimpleTestCase):
    def test_the_module_serves_a_streamed_plan_for_a_fold_request(self):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.provider", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(process.wait, 10)
        self.addCleanup(process.terminate)
        banner = process.stdout.readline()  # printed once the server listens
        self.assertIn(f"http://127.0.0.1:{port}/api/v1", banner)

        prompt = fold_prompt([], "notes.md", "# Limits\n\n## One-sided limits\n", language="en")
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": prompt}]}
        with httpx.stream(
            "POST", f"http://127.0.0.1:{port}/api/v1/chat/completions", json=body, timeout=10
        ) as response:
            self.assertEqual(response.headers["content-type"].split(";")[0], "text/event-stream")
            text = ""
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    chunk = json.loads(line[6:])
                    for choice in chunk.get("choices", []):
                        text += choice.get("delta", {}).get("content") or ""
        plan = json.loads(text)["topics"]
        self.assertEqual(plan[0]["title"], "Limits")
        self.assertIn("One-sided limits", plan[0]["subtopics"])
