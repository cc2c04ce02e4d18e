"""The SPEC §15 benchmark of "Ask your documents". Run it by hand, not in CI:

    .venv/bin/python bench/ask.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/ask.py --db sqlite          # one of them
    .venv/bin/python bench/ask.py --ranking            # the engine comparison (needs bm25s)

For each database it creates a fresh one (SQLite: a temporary file; PostgreSQL: the database
`--pg-database` on 127.0.0.1:5432 as postgres, dropped and re-created), stores a session of
`--documents` synthetic course documents (≈ 100 passages each: 50 give ≈ 5,000 passages)
through the real extraction hook (`Document.mark_completed` cuts and indexes them), starts
ONE uvicorn worker of the app, and measures with an aiohttp client the time from sending
`GET /sessions/<id>/ask?q=…` to receiving the `sources` event:

- alone: `--requests` questions one after the other;
- concurrent: `--askers` learners asking at the same time, `--per-asker` questions each.

The answers are offline (extractive); `sources` precedes any model call, so the figure is the
same with a model. Each stream is read to its end.

`--ranking` instead compares, on the fixture of tests/ask_fixture.py and on the synthetic
5,000-passage session, the database's own full-text engine (what the app uses) with bm25s
(+ PyStemmer): the share of questions whose passage is in the top 3, and the time per query.
"""

import argparse
import asyncio
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import login_cookie  # noqa: E402  (needs ROOT on the path)


def _words(text: str) -> list[str]:
    return text.split()


SYLLABLES = _words(
    "ka lo mi ne su ta ri po ve la do fi gu ha je ko lu ma ni or pe qua ra se ti un vo wa xe yo"
)
TOPIC_WORDS = _words(
    "kernel image container process thread memory page cache scheduler network volume "
    "registry layer namespace enzyme protein membrane ribosome market price demand supply "
    "inflation revolution empire treaty theorem integral derivative matrix vector entropy "
    "energy force momentum circuit voltage resistor algorithm graph tree heap queue stack"
)
GLUE = _words("the a of and to in is that for on with as by from at which are this it be")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
        f"max {max(ms):.1f} ms (n={len(ms)})"
    )


class Corpus:
    """Deterministic course-like text: a vocabulary with a Zipf-like use, headings and
    paragraphs of 4–7 sentences (≈ one passage each)."""

    def __init__(self, seed: int = 14):
        self.random = random.Random(seed)
        made = {
            "".join(self.random.choice(SYLLABLES) for _ in range(self.random.randint(2, 4)))
            for _ in range(6000)
        }
        self.vocabulary = TOPIC_WORDS + sorted(made)
        self.weights = [1 / (rank + 1) ** 0.9 for rank in range(len(self.vocabulary))]

    def words(self, n: int) -> list[str]:
        content = self.random.choices(self.vocabulary, self.weights, k=n)
        return [
            w if self.random.random() > 0.35 else f"{self.random.choice(GLUE)} {w}" for w in content
        ]

    def sentence(self) -> str:
        text = " ".join(self.words(self.random.randint(7, 13)))
        return text[0].upper() + text[1:] + "."

    def document(self, sections: int = 25, paragraphs: int = 4) -> str:
        out = [f"# {' '.join(self.words(3)).title()}"]
        for _ in range(sections):
            out.append(f"## {' '.join(self.words(2)).title()}")
            for _ in range(paragraphs):
                out.append(" ".join(self.sentence() for _ in range(self.random.randint(4, 7))))
        return "\n\n".join(out)

    def question(self) -> str:
        a, b = self.random.sample(self.vocabulary[:800], 2)
        return self.random.choice(
            [f"What is the {a} of {b}?", f"How does {a} relate to {b}?", f"Explain {a} and {b}."]
        )


# --- one database ---------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ.update(
        SECRET_KEY=os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(40),
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="studyplanner.settings",
        ENV_FILE=os.devnull,
        QUESTION_BUILDER="offline",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def fresh_database(kind: str, args) -> str:
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="studyplanner-ask-bench-"))
        return f"sqlite:///{folder / 'bench.sqlite3'}"
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=args.pg_port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.pg_database}"')
    return f"postgres://postgres@127.0.0.1:{args.pg_port}/{args.pg_database}"


def make_session(documents: int) -> tuple[str, int, float]:
    from django.contrib.auth import get_user_model

    from sessions_app.models import Document, Passage, StudySession

    corpus = Corpus()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    session = StudySession.objects.create(owner=user, title="Semester", language="en")
    started = time.monotonic()
    for n in range(documents):
        text = corpus.document()
        document = Document.objects.create(
            session=session, original_name=f"lecture-{n + 1:02}.md", position=n, size=len(text)
        )
        document.mark_completed(text, [])
    indexing = time.monotonic() - started
    return str(session.pk), Passage.objects.filter(session=session).count(), indexing


def start_server(database_url: str, port: int) -> subprocess.Popen:
    import httpx

    env = {
        **os.environ,
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "DATABASE_URL": database_url,
        "DB_POOL_MAX_SIZE": "20",
        "QUESTION_BUILDER": "offline",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "studyplanner.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--lifespan",
            "on",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)  # polling for readiness
    raise RuntimeError("uvicorn did not start")


async def time_to_sources(http, url: str, question: str) -> float:
    started = time.perf_counter()
    async with http.get(url, params={"q": question}) as response:
        assert response.status == 200, (response.status, await response.text())
        seen = b""
        elapsed = None
        async for chunk in response.content.iter_any():
            seen += chunk
            if elapsed is None and b"event: sources" in seen:
                elapsed = time.perf_counter() - started
        assert elapsed is not None and b"event: done" in seen, seen[-300:]
        return elapsed


async def drive(port: int, session_id: str, cookie: str, args) -> dict:
    import aiohttp

    url = f"http://127.0.0.1:{port}/sessions/{session_id}/ask"
    headers = {"Cookie": cookie, "Accept": "text/event-stream"}
    corpus = Corpus(seed=99)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        for _ in range(5):  # warm-up: connections, caches, the first compiled templates
            await time_to_sources(http, url, corpus.question())
        alone = [await time_to_sources(http, url, corpus.question()) for _ in range(args.requests)]

        async def asker(questions: list[str]) -> list[float]:
            return [await time_to_sources(http, url, q) for q in questions]

        batches = [[corpus.question() for _ in range(args.per_asker)] for _ in range(args.askers)]
        started = time.perf_counter()
        results = await asyncio.gather(*(asker(b) for b in batches))
        wall = time.perf_counter() - started
    together = [t for r in results for t in r]
    return {"alone": alone, "together": together, "wall": wall}


def run_one(kind: str, args) -> None:
    database_url = fresh_database(kind, args)
    setup_django(database_url)
    session_id, passages, indexing = make_session(args.documents)
    cookie = login_cookie()
    from django.db import connections

    connections.close_all()
    port = free_port()
    server = start_server(database_url, port)
    try:
        result = asyncio.run(drive(port, session_id, cookie, args))
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"== {kind}: {args.documents} documents, {passages} passages "
        f"(cut and indexed in {indexing:.1f} s)"
    )
    print(f"   first `sources`, one asker:      {summary(result['alone'])}")
    print(
        f"   first `sources`, {args.askers} askers at once: {summary(result['together'])}; "
        f"{len(result['together']) / result['wall']:.0f} answers/s"
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the engine comparison ------------------------------------------------------------------


def ranking(args) -> None:
    import bm25s
    import Stemmer

    database_url = fresh_database("sqlite" if args.db != "postgresql" else "postgresql", args)
    setup_django(database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from questions.retrieval import retrieve
    from sessions_app.models import Document, Passage, StudySession
    from tests.ask_fixture import DOCUMENTS, QUESTIONS

    user, _ = get_user_model().objects.get_or_create(username="bench")
    session = StudySession.objects.create(owner=user, title="Fixture", language="en")
    for n, (name, text) in enumerate(DOCUMENTS.items()):
        Document.objects.create(session=session, original_name=name, position=n).mark_completed(
            text, []
        )
    passages = list(Passage.objects.filter(session=session).select_related("document"))
    stemmer = Stemmer.Stemmer("english")

    def expected(name, anchor):
        return next(p.id for p in passages if p.document.original_name == name and anchor in p.text)

    # The database's engine, as the app uses it.
    hits = 0
    for question, name, anchor in QUESTIONS:
        top = [s.passage_id for s in retrieve(session, question, limit=3)]
        hits += expected(name, anchor) in top
    engine = f"{connection.vendor} full-text"
    print(f"{engine}: {hits}/{len(QUESTIONS)} = {hits / len(QUESTIONS):.0%} in the top 3")

    # bm25s over the same passages (heading + text, as the index holds them).
    corpus = [f"{p.heading}\n{p.text}" for p in passages]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    hits = 0
    for question, name, anchor in QUESTIONS:
        tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(tokens, k=3, show_progress=False)
        hits += expected(name, anchor) in [passages[i].id for i in docs[0]]
    print(f"bm25s + PyStemmer: {hits}/{len(QUESTIONS)} = {hits / len(QUESTIONS):.0%} in the top 3")

    # Time per query on a 5,000-passage session: the engine in the database, against bm25s
    # (which must first load and index the session's passages in the process).
    session_id, count, _ = make_session(args.documents)
    questions = [Corpus(seed=7).question() for _ in range(200)]
    big = StudySession.objects.get(pk=session_id)
    timings = []
    for q in questions:
        started = time.perf_counter()
        retrieve(big, q)
        timings.append(time.perf_counter() - started)
    print(f"{engine}, {count} passages, retrieve(): {summary(timings)}")
    started = time.perf_counter()
    rows = list(Passage.objects.filter(session_id=session_id).values_list("heading", "text"))
    big_retriever = bm25s.BM25()
    big_retriever.index(
        bm25s.tokenize(
            [f"{h}\n{t}" for h, t in rows], stopwords="en", stemmer=stemmer, show_progress=False
        ),
        show_progress=False,
    )
    build = time.perf_counter() - started
    timings = []
    for q in questions:
        started = time.perf_counter()
        tokens = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        big_retriever.retrieve(tokens, k=5, show_progress=False)
        timings.append(time.perf_counter() - started)
    print(
        f"bm25s, {count} passages: load + index {build * 1000:.0f} ms once per session and "
        f"process, then per query {summary(timings)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--documents", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--askers", type=int, default=50)
    parser.add_argument("--per-asker", type=int, default=4)
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-database", default="studyplanner_bench_ask")
    parser.add_argument("--ranking", action="store_true")
    args = parser.parse_args()
    if args.ranking:
        ranking(args)
        return
    if args.db == "both":
        # One process per database: Django's settings are read once per process.
        for kind in ("sqlite", "postgresql"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--db", kind], check=True)
        return
    run_one(args.db, args)


if __name__ == "__main__":
    main()
