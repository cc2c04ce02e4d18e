"""A stand-in for one uvicorn worker in tests/test_metrics.py: it counts a known sequence
with studyplanner.metrics (in PROMETHEUS_MULTIPROC_DIR, from its environment), holds one
event stream open until told on stdin to shut down, which it does with the stream open."""

import os
import sys

from studyplanner import metrics

succeeded, failed = int(sys.argv[1]), int(sys.argv[2])
for outcome, count in [("succeeded", succeeded), ("failed", failed)]:
    for _ in range(count):
        metrics.record_finished(
            "run",
            outcome=outcome,
            builder="openrouter",
            model="fake/model-1",
            session_id="00000000-0000-0000-0000-000000000000",
            duration=4.0 if outcome == "succeeded" else 40.0,
            first_event=0.4,
            documents=1,
            prompt_tokens=12,
            completion_tokens=34,
            cost=0.5,
        )
        metrics.record_upstream_call(200 if outcome == "succeeded" else 503, retry=False)
with metrics.open_stream("plan"):
    print("streaming", flush=True)
    sys.stdin.readline()
    # Shut down with the stream still open (as when uvicorn's graceful timeout runs out):
    # the shutdown hook must take this worker out of the open-streams gauge.
    metrics.forget_this_process()
    os._exit(0)
