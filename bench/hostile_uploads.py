"""Hostile uploads against a live server: how long the crafted files of issue 12 take to
fail, and what another learner's requests cost meanwhile (figures, not assertions).

    .venv/bin/python bench/hostile_uploads.py                 # caps on (the defaults)
    .venv/bin/python bench/hostile_uploads.py --timeout 10    # also: a read killed at 10 s

One uvicorn worker as `make run` serves it (SQLite, the in-process queue worker). Learner A
uploads the crafted DOCX (400,000 empty paragraphs, ~0.24 MB, ratio ~50:1) and the crafted
PDF (25 pages sharing one 4 MB content stream, ~16 KB); with --timeout, a third upload of
that PDF on a server whose content caps are lifted, so only the time limit stops it.
Learner B loads their session list throughout; its latency is reported next to a baseline.
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import documents as files
from tests.e2e.support import LEARNER, LiveServer


def logged_in(server: LiveServer, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.status_code
    return client


def latencies(client: httpx.Client, stop: threading.Event, out: list) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        client.get("/sessions/")
        out.append((time.perf_counter() - started) * 1000)
        stop.wait(0.02)


def summary(values: list[float]) -> str:
    p95 = statistics.quantiles(values, n=20, method="inclusive")[-1]
    return (
        f"median {statistics.median(values):.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(values):.1f} ms ({len(values)} requests)"
    )


def run(timeout: float | None) -> None:
    env = {"LOG_LEVEL": "ERROR"}
    if timeout:
        env.update(
            EXTRACTION_TIMEOUT=str(timeout),
            PDF_MAX_PAGE_CONTENT_KB=str(10**6),
            PDF_MAX_CONTENT_MB=str(10**6),
        )
    server = LiveServer(**env).start()
    try:
        server.manage("create_demo_user", "--username", "other", "--password", "other-pass-83")
        a = logged_in(server, *LEARNER)
        b = logged_in(server, "other", "other-pass-83")
        token = a.cookies["csrftoken"]
        created = a.post(
            "/sessions/",
            json={"title": "Hostile", "language": "en"},
            headers={"accept": "application/json", "x-csrftoken": token},
        ).json()
        baseline: list[float] = []
        stop = threading.Event()
        latencies(b, _stop_after(stop, 3.0), baseline)

        uploads = [("crafted.docx", files.docx_of_empty_paragraphs())]
        uploads.append(("crafted.pdf", files.pdf_with_shared_content_stream()))
        during: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=latencies, args=(b, stop, during))
        watcher.start()
        started = time.perf_counter()
        response = a.post(
            f"/sessions/{created['id']}/documents",
            files=[("file", (name, data)) for name, data in uploads],
            headers={"accept": "application/json", "x-csrftoken": token},
        )
        answered = time.perf_counter() - started
        documents = {d["id"]: d["name"] for d in response.json()["documents"]}
        finished: dict[str, tuple[float, str]] = {}
        while len(finished) < len(documents) and time.perf_counter() - started < 600:
            for d in a.get(
                f"/sessions/{created['id']}/", headers={"accept": "application/json"}
            ).json()["documents"]:
                if d["status"] in ("COMPLETED", "FAILED") and d["id"] not in finished:
                    finished[d["id"]] = (time.perf_counter() - started, d["error"][:90])
            time.sleep(0.05)
        stop.set()
        watcher.join()
        lifted = f"caps lifted, EXTRACTION_TIMEOUT={timeout:g}s" if timeout else "defaults"
        print(f"server: {lifted}")
        print(f"upload answered in {answered * 1000:.0f} ms (documents PENDING)")
        for document_id, name in documents.items():
            seconds, error = finished.get(document_id, (float("nan"), "not finished"))
            print(f"  {name}: done after {seconds:.2f} s — {error}")
        print(f"learner B before: {summary(baseline)}")
        print(f"learner B during: {summary(during)}")
    finally:
        server.stop()


def _stop_after(event: threading.Event, seconds: float) -> threading.Event:
    threading.Timer(seconds, event.set).start()
    return event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, help="lift the content caps; kill reads here")
    run(parser.parse_args().timeout)


if __name__ == "__main__":
    main()
