"""The plan editor's form: rows in, plan out, one action applied (SPEC §8).

The form works without JavaScript: every topic row carries a key, its title and its
subtopics in page order, plus one blank subtopic field (to add one) and one blank topic row
at the end (to add a topic). Buttons submit an `action`:

    save · up:<key> · down:<key> · delete:<key> · undo-delete
    delete-sub:<key>:<n> · sub-up:<key>:<n> · sub-down:<key>:<n>

the server applies it to what was submitted, validates the result with `normalize_plan` and
saves. htmx posts the same form and swaps the re-rendered editor in place; drag-and-drop only
reorders the rows. A subtopic moved up past the first place (or down past the last)
moves into the previous (next) topic. Blank subtopic fields are ignored, so a failed save
never turns the blank "Add a subtopic…" row into a real (empty) one.
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

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.subtopic_errors)

    @property
    def summary(self) -> str:
        """One line that says what a collapsed topic holds."""
        if not self.subtopics:
            return "No subtopics yet"
        count = len(self.subtopics)
        shown = ", ".join(self.subtopics[:3])
        more = f" … and {count - 3} more" if count > 3 else ""
        return f"{count} subtopic{'s' if count != 1 else ''}: {shown}{more}"


@dataclass(frozen=True)
class Focus:
    """The control to focus after an action, named by what it belongs to: (control, topic
    position, subtopic index). The page's keys change when a saved plan is re-rendered, so
    the id is only made once the rows to render are known (`Focus.id`)."""

    control: str  # "up", "down", "title", "sub", "sub-up", "sub-down", "add-topic", "save"
    position: int = 0  # 0-based topic position in the rendered rows
    subtopic: int = 0

    def id(self, topics: list[EditorTopic]) -> str:
        if self.control == "add-topic" or not topics:
            return "add-topic-title"
        if self.control == "save":
            return "save-plan"
        position = min(self.position, len(topics) - 1)
        key = topics[position].key
        if self.control == "up":
            return f"up-{key}" if position > 0 else f"down-{key}"
        if self.control == "down":
            return f"down-{key}" if position < len(topics) - 1 else f"up-{key}"
        if self.control in ("sub", "sub-up", "sub-down"):
            count = len(topics[position].subtopics)
            if count == 0:
                return f"t{key}-new"
            index = min(self.subtopic, count - 1)
            first = position == 0 and index == 0
            last = position == len(topics) - 1 and index == count - 1
            control = self.control
            if (control == "sub-up" and first) or (control == "sub-down" and last):
                control = "sub-down" if control == "sub-up" else "sub-up"
                if first and last:
                    control = "sub"
            suffix = {"sub": "", "sub-up": "-up", "sub-down": "-down"}[control]
            return f"t{key}-sub{index}{suffix}"
        return f"t{key}-title"


@dataclass(frozen=True)
class DeletedTopic:
    """What "Undo" puts back after a topic was deleted."""

    title: str
    subtopics: list[str]
    position: int  # 0-based


def topics_from_plan(plan: Plan) -> list[EditorTopic]:
    return [EditorTopic(str(n), t["title"], list(t["subtopics"])) for n, t in enumerate(plan)]


NEW_ROW = "new"  # the key of the blank "add a topic" row the page always ends with


def _filled(values: list[str]) -> list[str]:
    return [v for v in values if v.strip()]


def topics_from_form(data) -> list[EditorTopic]:
    """The rows as submitted, in page order, so a problem's position names its row.

    The blank "add a topic" row is left out; filled in, it becomes a row like the others
    (with a key of its own, since the page adds a fresh blank row after it). Blank subtopic
    fields (the "Add a subtopic…" row, or a subtopic the learner emptied) are left out.
    """
    topics = []
    for key in data.getlist("topic"):
        title, subtopics = data.get(f"t{key}-title", ""), _filled(data.getlist(f"t{key}-sub"))
        if key == NEW_ROW:
            if not title.strip() and not subtopics:
                continue
            key = f"added{len(topics)}"
        topics.append(EditorTopic(key, title, subtopics))
    return topics


def deleted_topic_from_form(data) -> DeletedTopic | None:
    """The topic an "Undo" button offers to put back (hidden fields after a delete)."""
    title = data.get("undo-title", "")
    position = data.get("undo-position", "")
    if not title.strip() or not position.isdecimal():
        return None
    return DeletedTopic(title, _filled(data.getlist("undo-sub")), int(position))


def apply_action(
    topics: list[EditorTopic], action: str, data=None
) -> tuple[list[EditorTopic], Focus | None, DeletedTopic | None]:
    """Apply one button's action; return the rows, what to focus next, and the topic a
    delete removed (for Undo)."""
    verb, _, rest = action.partition(":")
    key, _, index = rest.partition(":")
    topics = list(topics)
    if verb == "save":
        return topics, Focus("save"), None
    if verb == "undo-delete":
        deleted = deleted_topic_from_form(data) if data is not None else None
        if deleted is None:
            return topics, None, None
        position = min(deleted.position, len(topics))
        topics.insert(position, EditorTopic(f"undone{position}", deleted.title, deleted.subtopics))
        return topics, Focus("title", position), None
    position = next((n for n, t in enumerate(topics) if t.key == key), None)
    if position is None:
        return topics, None, None
    topic = topics[position]
    if verb == "up" and position > 0:
        topics[position - 1], topics[position] = topics[position], topics[position - 1]
        return topics, Focus("up", position - 1), None
    if verb == "down" and position < len(topics) - 1:
        topics[position + 1], topics[position] = topics[position], topics[position + 1]
        return topics, Focus("down", position + 1), None
    if verb == "delete":
        del topics[position]
        deleted = DeletedTopic(topic.title, topic.subtopics, position)
        if not topics:
            return topics, Focus("add-topic"), deleted
        return topics, Focus("title", min(position, len(topics) - 1)), deleted
    if not index.isdecimal() or int(index) >= len(topic.subtopics):
        return topics, None, None
    n = int(index)
    subtopics = list(topic.subtopics)
    if verb == "delete-sub":
        del subtopics[n]
        topics[position] = EditorTopic(topic.key, topic.title, subtopics)
        return topics, Focus("sub", position, n), None
    if verb == "sub-up" and n > 0:
        subtopics[n - 1], subtopics[n] = subtopics[n], subtopics[n - 1]
        topics[position] = EditorTopic(topic.key, topic.title, subtopics)
        return topics, Focus("sub-up", position, n - 1), None
    if verb == "sub-down" and n < len(subtopics) - 1:
        subtopics[n + 1], subtopics[n] = subtopics[n], subtopics[n + 1]
        topics[position] = EditorTopic(topic.key, topic.title, subtopics)
        return topics, Focus("sub-down", position, n + 1), None
    # Past either end of its topic, a subtopic moves on into the neighbouring topic.
    if verb == "sub-up" and position > 0:
        moved = subtopics.pop(n)
        previous = topics[position - 1]
        topics[position] = EditorTopic(topic.key, topic.title, subtopics)
        topics[position - 1] = EditorTopic(
            previous.key, previous.title, [*previous.subtopics, moved]
        )
        return topics, Focus("sub-up", position - 1, len(previous.subtopics)), None
    if verb == "sub-down" and position < len(topics) - 1:
        moved = subtopics.pop(n)
        following = topics[position + 1]
        topics[position] = EditorTopic(topic.key, topic.title, subtopics)
        topics[position + 1] = EditorTopic(
            following.key, following.title, [moved, *following.subtopics]
        )
        return topics, Focus("sub-down", position + 1, 0), None
    return topics, None, None


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
