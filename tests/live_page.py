"""The session page's live panel, changed by the HTML flavour's events as htmx 2 changes it.

The panel swaps nothing itself (`hx-swap="none"`): every part of an event's fragment is an
out-of-band swap, which htmx 2.0 (htmx.js `oobSwap`) applies in document order:
`hx-swap-oob="true"` / `"outerHTML"` replaces the element of the same id by the element,
`"delete"` removes it, `"innerHTML"` replaces its content, and `"<style>:<selector>"`
(afterbegin, beforeend, afterend) puts the wrapper's children at that place. The browser test
(tests/e2e/test_live_plan_browser.py) checks the real thing.
"""

import xml.etree.ElementTree as ET

PANEL = (
    '<main><div id="generation-header"></div><span id="generation-message"></span>'
    '<span id="session-status"></span><ol id="live-plan" class="plan-outline live"></ol></main>'
)


class LivePage:
    def __init__(self):
        self.root = ET.fromstring(PANEL)

    def _place(self, element_id: str) -> tuple[ET.Element, int]:
        """(parent, index) of the element with this id; AssertionError if not exactly one."""
        found = [
            (parent, index)
            for parent in self.root.iter()
            for index, child in enumerate(parent)
            if child.get("id") == element_id
        ]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def apply(self, fragment: str) -> None:
        for part in list(ET.fromstring(f"<fragment>{fragment}</fragment>")):
            how = part.attrib.pop("hx-swap-oob", None)
            assert how is not None, f"not out of band: {ET.tostring(part)!r}"
            style, _, selector = how.partition(":")
            if not selector:
                style, selector = ("outerHTML" if how == "true" else how), "#" + part.get("id")
            assert selector.startswith("#"), selector
            parent, index = self._place(selector[1:])
            target = parent[index]
            if style == "outerHTML":
                parent[index] = part
            elif style == "delete":
                del parent[index]
            elif style == "innerHTML":
                target[:] = list(part)
                target.text = part.text
            elif style == "afterbegin":
                target[0:0] = list(part)
            elif style == "beforeend":
                target.extend(list(part))
            elif style == "afterend":
                parent[index + 1 : index + 1] = list(part)
            else:
                raise AssertionError(f"unexpected swap {how!r}")
        ids = [e.get("id") for e in self.root.iter() if e.get("id")]
        assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"

    def plan(self) -> list[dict]:
        """The plan as the list shows it: [{"title", "subtopics"}]."""
        shown = []
        for item in self.root.find(".//ol[@id='live-plan']"):
            subtopics = item.find("ul")
            shown.append(
                {
                    "title": "".join(item.find("span").itertext()),
                    "subtopics": ["".join(s.itertext()) for s in subtopics or ()],
                }
            )
        return shown

    def text(self, element_id: str) -> str:
        parent, index = self._place(element_id)
        return "".join(parent[index].itertext()).strip()


def shown(plan) -> list[dict]:
    """A plan as the live list shows it (no numbering)."""
    return [{"title": t["title"], "subtopics": list(t["subtopics"])} for t in plan]
