"""The benchmark's AI provider: tests/fakes' FakeProvider in a process of its own, so its
work doesn't compete with the load generator for the GIL.

Each fold request is answered with a plan for the document named in the prompt: documents
`<scenario>-<n>.md` get a plan of 2·n topics, the plan "so far" plus two new ones. Plain
scenarios wait --latency seconds, then stream the answer quickly; `relay-*` documents stream
one topic every --topic-gap seconds so the relay delay of each topic can be measured.

Commands on stdin, one per line: `dump <path>` writes every request seen since the last dump
as JSON lines (times are time.monotonic(), which is system-wide on Linux) and answers `ok`.
"""

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.provider import DONE, FakeProvider, Reply, completion_chunk

_DOCUMENT = re.compile(r'New document "(?P<scenario>[a-z]+)-(?P<number>\d+)\.md"')


def plan_topics(count: int) -> list[dict]:
    return [
        {
            "order_index": n,
            "title": f"Topic {n}: a study subject",
            "subtopics": [f"Idea {n}.{m} to learn" for m in range(1, 4)],
        }
        for n in range(1, count + 1)
    ]


def responder_for(latency: float, topic_gap: float):
    def respond(request):
        match = _DOCUMENT.search(request.user_prompt or "")
        if match is None:
            return Reply.error(
                400, message="the benchmark expects documents named <scenario>-<n>.md"
            )
        topics = plan_topics(2 * int(match["number"]))
        if match["scenario"] != "relay":
            text = json.dumps({"topics": topics})
            return Reply.stream(text, chunk_size=len(text) // 6 + 1, latency=latency, keepalive=0)
        # One content chunk per topic, each ending exactly where its topic's JSON closes.
        pieces = ['{"topics": [' + json.dumps(topics[0])]
        pieces += [", " + json.dumps(topic) for topic in topics[1:]]
        pieces[-1] += "]}"
        events = [completion_chunk("")] + [completion_chunk(piece) for piece in pieces]
        events += [
            completion_chunk("", finish_reason="stop"),
            completion_chunk(usage={"prompt_tokens": 100, "completion_tokens": 50}, choices=[]),
            DONE,
        ]
        return Reply.sse(events, delay=topic_gap, latency=latency)

    return respond


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--topic-gap", type=float, default=0.25)
    args = parser.parse_args()

    provider = FakeProvider(responder=responder_for(args.latency, args.topic_gap)).start()
    print(provider.base_url, flush=True)
    dumped = 0
    for line in sys.stdin:
        command, _, path = line.strip().partition(" ")
        if command == "dump":
            requests = provider.requests[dumped:]
            dumped += len(requests)
            with open(path, "w") as out:
                for request in requests:
                    match = _DOCUMENT.search(request.user_prompt or "")
                    record = {
                        "document": match.group(0) if match else None,
                        "arrived_at": request.arrived_at,
                        "completed_at": request.completed_at,
                        "disconnected_at": request.disconnected_at,
                        "sent_at": request.sent_at,
                    }
                    out.write(json.dumps(record) + "\n")
            print("ok", flush=True)
    provider.stop()


if __name__ == "__main__":
    main()
