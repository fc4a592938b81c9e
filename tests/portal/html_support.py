"""A small HTML tree for page tests (the standard library's parser: no
dependency), enough to ask which links a nav holds or what a card contains."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}  # fmt: skip


@dataclass
class Element:
    tag: str
    attrs: dict
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list:
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
        ]

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    @property
    def text(self) -> str:
        return " ".join(
            "".join(e.text_parts).strip() for e in self.iter() if e.text_parts
        ).strip()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(
            Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        )

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    return builder.root


def tabs(html: str) -> list[Element]:
    """The links of the portal's tab bar."""
    [nav] = parse(html).find_all("nav", "tabbar")
    return nav.find_all("a")


def is_filled(element: Element) -> bool:
    """A filled (primary-looking) control: a button, or a link styled as one,
    that is not secondary, destructive or a plain link."""
    if element.tag == "a" and "button" not in element.classes:
        return False
    if element.tag not in {"a", "button"}:
        return False
    return not element.classes & {"secondary", "danger", "danger-fill", "link"}
