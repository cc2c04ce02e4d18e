"""The layout's rules (STYLE.md), checked on the source: dependencies run one way and no
module-level import cycle exists. Function-level imports count for the direction, so a
hidden import inside a function can't dodge it."""

import ast
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["studyplanner", "ai", "sessions_app", "plans", "questions", "quotas", "monitoring"]

# Which of our packages each package must never import.
FORBIDDEN = {
    "studyplanner": {"sessions_app", "plans", "questions", "quotas", "monitoring"},
    "ai": {"studyplanner", "sessions_app", "plans", "questions", "quotas", "monitoring"},
    "sessions_app": {"plans", "questions", "quotas", "monitoring"},
    "plans": {"questions", "monitoring"},
    "questions": {"plans", "monitoring"},
    # Quotas count per user and day; the AI features call them, never the other way.
    "quotas": {"sessions_app", "plans", "questions", "monitoring"},
    # Monitoring reads the history models for its aggregates (sessions_app's runs, and
    # questions' Question through the app registry), never the features' code.
    "monitoring": {"plans", "quotas"},
}
# Exceptions to FORBIDDEN: the metric objects every package increments are web glue that
# imports nothing of the project (checked below), so even the AI client may use them.
ALLOWED = {"ai": {"studyplanner.metrics"}}
# The root URLconf wires the apps together; that is its job.
WIRING = {"studyplanner.urls"}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).exists() else []:
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path], *, top_level_only: bool) -> set[str]:
    """The project modules that `path` imports (the submodule where `from pkg import sub`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    cycles = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                cycles.append(" → ".join([*trail[trail.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


class LayoutTests(SimpleTestCase):
    def test_dependencies_run_one_way(self):
        modules = project_modules()
        wrong = []
        for name, path in modules.items():
            if name in WIRING:
                continue
            package = name.split(".")[0]
            for imported in imports_of(path, modules, top_level_only=False):
                if imported in ALLOWED.get(package, ()):
                    continue
                if imported.split(".")[0] in FORBIDDEN[package]:
                    wrong.append(f"{name} imports {imported}")
        self.assertEqual(wrong, [])

    def test_the_ai_errors_module_is_a_leaf(self):
        modules = project_modules()
        self.assertEqual(imports_of(modules["ai.errors"], modules, top_level_only=False), set())

    def test_the_metrics_module_is_a_leaf(self):
        modules = project_modules()
        imported = imports_of(modules["studyplanner.metrics"], modules, top_level_only=False)
        self.assertEqual(imported, set())

    def test_no_module_level_import_cycle(self):
        modules = project_modules()
        graph = {
            name: imports_of(path, modules, top_level_only=True) & modules.keys()
            for name, path in modules.items()
        }
        self.assertEqual(find_cycles(graph), [])

    def test_the_cycle_finder_reports_a_circle(self):
        graph = {"plans.a": {"plans.b"}, "plans.b": {"plans.c"}, "plans.c": {"plans.a"}}
        self.assertEqual(find_cycles(graph), ["plans.a → plans.b → plans.c → plans.a"])
