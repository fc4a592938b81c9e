"""No app imports another app's private names: a name or module that starts
with ``_`` belongs to its app (import-linter checks modules, not names, so this
walks the source). Within an app, anything goes."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
APPS = sorted(
    path.parent.name
    for path in ROOT.glob("*/__init__.py")
    if path.parent.name not in {"tests", "scripts", "bench"}
)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def crossings(path: pathlib.Path, app: str) -> list[str]:
    """``module: name`` for each private name ``path`` imports from another app."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            parts = node.module.split(".")
            if parts[0] in APPS and parts[0] != app:
                names = [alias.name for alias in node.names]
                for bad in [p for p in parts[1:] if _private(p)] + [
                    n for n in names if _private(n)
                ]:
                    found.append(f"line {node.lineno}: {node.module} {bad}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in APPS and parts[0] != app:
                    found += [
                        f"line {node.lineno}: {alias.name}"
                        for p in parts[1:]
                        if _private(p)
                    ]
    return found


def test_the_apps_are_found():
    assert {"core", "clinic", "consent", "messaging", "config", "portal"} <= set(APPS)


def test_the_check_sees_a_private_name_of_another_app(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "from messaging.services import _private, public\n"
        "from messaging._internal import thing\n"
        "import messaging._internal\n"
        "from feedback.models import _own\n"
        "from messaging import __version__\n"
    )
    assert crossings(source, app="feedback") == [
        "line 1: messaging.services _private",
        "line 2: messaging._internal _internal",
        "line 3: messaging._internal",
    ]


def test_no_app_imports_another_apps_private_names():
    found = {
        str(path.relative_to(ROOT)): crossing
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        for crossing in [crossings(path, app)]
        if crossing
    }
    assert found == {}
