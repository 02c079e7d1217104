"""How the console sits in the code: the app composes it, it never imports the API, pages are plain code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import redline.web.console.render

CONSOLE = Path(redline.web.console.render.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_the_console_never_imports_the_api() -> None:
    """``redline.api`` imports ``redline.web`` to compose the app; the reverse would be a package cycle."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, redline.web, redline.web.console.routes; "
            "print(sorted(m for m in sys.modules if m.startswith('redline.api')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
    for module in CONSOLE.glob("*.py"):
        assert not any(name.startswith("redline.api") for name in imported_modules(module)), module


def test_pages_are_rendered_without_the_web_framework() -> None:
    for module in ("render.py", "html.py"):
        names = imported_modules(CONSOLE / module)
        assert not any(n.split(".")[0] in {"fastapi", "starlette", "sqlalchemy"} for n in names), names
