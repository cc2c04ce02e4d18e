"""The plan editor's form: rows in, plan out, one action applied (SPEC §8).

The form works without JavaScript: every topic row carries a key, its title and its
subtopics in page order, plus one blank subtopic field (to add one) and one blank topic row
at the end (to add a topic). Buttons submit an `action` ("up:<key>", "down:<key>",
"delete:<key>", "delete-sub:<key>:<n>", "save"); the server applies it to what was
submitted, validates the result with `normalize_plan` and saves. htmx posts the same form
and swaps the re-rendered editor in place; drag-and-drop only reorders the rows.
"""

from dataclasses import dataclass, field

from plans.schema import Plan, PlanProblem


@dataclass
class EditorTopic:
    key: str
    title: str
    subtopics: list[str]
    errors: list[str] = field(default_factory=list)
    subtopic_errors: dict[int, list[str]] = field(default_factory=dict)  # 0-based index

    @property
    def rows(self) -> list[tuple[int, str, list[str]]]:
        """(index, text, errors) of each subtopic, for the template."""
        return [(n, s, self.subtopic_errors.get(n, [])) for n, s in enumerate(self.subtopics)]


def topics_from_plan(plan: Plan) -> list[EditorTopic]:
    return [EditorTopic(str(n), t["title"], list(t["subtopics"])) for n, t in enumerate(plan)]


NEW_ROW = "new"  # the key of the blank "add a topic" row the page always ends with


def topics_from_form(data) -> list[EditorTopic]:
    """The rows as submitted, in page order, so a problem's position names its row.

    The blank "add a topic" row is left out; filled in, it becomes a row like the others
    (with a key of its own, since the page adds a fresh blank row after it).
    """
    topics = []
    for key in data.getlist("topic"):
        title, subtopics = data.get(f"t{key}-title", ""), data.getlist(f"t{key}-sub")
        if key == NEW_ROW:
            if not title.strip() and not any(s.strip() for s in subtopics):
                continue
            key = f"added{len(topics)}"
        topics.append(EditorTopic(key, title, subtopics))
    return topics


def apply_action(topics: list[EditorTopic], action: str) -> tuple[list[EditorTopic], str | None]:
    """Apply one button's action; return the rows and the id of the control to focus next."""
    verb, _, rest = action.partition(":")
    key, _, index = rest.partition(":")
    position = next((n for n, t in enumerate(topics) if t.key == key), None)
    if position is None:
        return topics, None
    topics = list(topics)
    if verb == "up" and position > 0:
        topics[position - 1], topics[position] = topics[position], topics[position - 1]
        return topics, f"up-{key}" if position > 1 else f"down-{key}"
    if verb == "down" and position < len(topics) - 1:
        topics[position + 1], topics[position] = topics[position], topics[position + 1]
        return topics, f"down-{key}" if position < len(topics) - 2 else f"up-{key}"
    if verb == "delete":
        del topics[position]
        return topics, "add-topic-title"
    if verb == "delete-sub" and index.isdigit():
        topic = topics[position]
        subtopics = [s for n, s in enumerate(topic.subtopics) if n != int(index)]
        topics[position] = EditorTopic(topic.key, topic.title, subtopics)
        return topics, f"t{key}-title"
    return topics, None


def duplicate_titles(topics: list[EditorTopic]) -> list[PlanProblem]:
    """Titles used twice: the validator would merge those topics, which in an editor is a
    surprise, so the learner is asked instead."""
    first: dict[str, int] = {}
    problems = []
    for position, topic in enumerate(topics, start=1):
        key = " ".join(topic.title.split()).casefold()
        if not key:
            continue
        if key in first:
            problems.append(
                PlanProblem(
                    f"topic {first[key]} already has this title; choose another one",
                    position,
                )
            )
        else:
            first[key] = position
    return problems


def raw_plan(topics: list[EditorTopic]) -> list[dict]:
    return [{"title": t.title, "subtopics": t.subtopics} for t in topics]


def attach_problems(topics: list[EditorTopic], problems: list[PlanProblem]) -> list[str]:
    """Put each problem next to its field; return the ones that concern the whole plan."""
    general = []
    for problem in problems:
        if problem.topic is None or problem.topic > len(topics):
            general.append(str(problem))
            continue
        topic = topics[problem.topic - 1]
        if problem.subtopic is None:
            topic.errors.append(problem.message)
        else:
            topic.subtopic_errors.setdefault(problem.subtopic - 1, []).append(problem.message)
    return general
