"""Browser tests: real Chromium (Playwright for Python) against a live uvicorn server.

The server runs in a subprocess exactly as `make run` serves the app, with its own SQLite
database in a temporary folder. Outside CI a machine without Chromium or Playwright skips
these tests with the reason; under CI=true that is a failure.
"""

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
LEARNER = ("learner", "e2e-password-83")


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def missing_browser_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install -y chromium)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, **env_overrides: str):
        self.folder = Path(tempfile.mkdtemp(prefix="studyplanner-e2e-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.folder / "server.log"
        self.env = {
            **os.environ,
            "ENV_FILE": os.devnull,
            "DEBUG": "False",
            "SECRET_KEY": "e2e-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SESSION_COOKIE_SECURE": "False",
            "CSRF_COOKIE_SECURE": "False",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": f"sqlite:///{self.folder / 'e2e.sqlite3'}",
            "MEDIA_ROOT": str(self.folder / "media"),
            "LOG_LEVEL": "WARNING",
            **env_overrides,
        }
        self.process = None

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )

    def start(self) -> "LiveServer":
        self.manage("migrate", "--noinput")
        self.manage("create_demo_user", "--username", LEARNER[0], "--password", LEARNER[1])
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "studyplanner.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--timeout-graceful-shutdown",
                "2",
                "--lifespan",
                "on",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/accounts/login/", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling for readiness, with a deadline
        raise RuntimeError(f"uvicorn did not start in 30 s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _screenshots_on_failure(test):
    @functools.wraps(test)
    def guarded(self, *args, **kwargs):
        try:
            return test(self, *args, **kwargs)
        except BaseException:
            self.save_screenshots()
            raise

    return guarded


def record_texts(selector: str, name: str) -> str:
    """An init script that records every distinct text of `selector` in `window[name]`, as
    the learner would have seen it, however the page changes."""
    return f"""
window.{name} = [];
new MutationObserver(() => {{
  const element = document.querySelector({selector!r});
  const text = element ? element.innerText.trim() : '';
  const seen = window.{name};
  if (text && seen[seen.length - 1] !== text) seen.push(text);
}}).observe(document, {{subtree: true, childList: true, characterData: true}});
"""


class BrowserTestCase(unittest.TestCase):
    """One live server and one Chromium per class; a fresh browser context per test."""

    server_env: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if name.startswith("test") and callable(member):
                setattr(cls, name, _screenshots_on_failure(member))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = missing_browser_reason()
        if reason:
            if os.environ.get("CI") == "true":
                raise RuntimeError(f"Browser tests cannot run in CI: {reason}")
            raise unittest.SkipTest(reason)
        from playwright.sync_api import sync_playwright

        cls.server = cls.start_server()
        cls.addClassCleanup(cls.server.stop)
        cls.playwright = sync_playwright().start()
        cls.addClassCleanup(cls.playwright.stop)
        cls.browser = cls.playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        cls.addClassCleanup(cls.browser.close)

    @classmethod
    def start_server(cls) -> LiveServer:
        return LiveServer(**cls.server_env).start()

    def setUp(self):
        self.context = self.browser.new_context(base_url=self.server.url)
        self.context.set_default_timeout(15_000)
        self.addCleanup(self.context.close)
        self.page = self.context.new_page()

    def save_screenshots(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        for index, page in enumerate(self.context.pages):
            path = ARTIFACTS / f"{type(self).__name__}.{self._testMethodName}.{index}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot saved: {path}", file=sys.stderr)
            except Exception as error:  # a crashed page must not hide the test's failure
                print(f"could not save a screenshot of page {index}: {error}", file=sys.stderr)

    def snapshot(self, name: str, page=None) -> Path:
        """A screenshot of the page as it is now, kept for people to look at."""
        folder = ARTIFACTS / "pages"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path

    def log_in(self, username: str = LEARNER[0], password: str = LEARNER[1]) -> None:
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url("**/sessions/")


class FakeProviderBrowserTestCase(BrowserTestCase):
    """A live server whose AI provider is the fake one (tests/fakes), for every AI feature:
    `ai_env` names the settings that choose the model path."""

    ai_env: dict[str, str] = {}

    @classmethod
    def start_server(cls) -> LiveServer:
        from tests.fakes import FAKE_API_KEY, FakeProvider

        cls.provider = FakeProvider().start()
        cls.addClassCleanup(cls.provider.stop)
        cls.server_env = {
            **cls.ai_env,
            "OPENROUTER_BASE_URL": cls.provider.base_url,
            "OPENROUTER_API_KEY": FAKE_API_KEY,
            "AI_RETRY_MAX_WAIT": "0.1",
        }
        return super().start_server()

    def setUp(self):
        super().setUp()
        self.provider.reset()
