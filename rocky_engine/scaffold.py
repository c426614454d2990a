"""``rocky init``: an empty skeleton, or a working example project.

    >>> init_project(Path("/tmp/shop"), example="shop")   # doctest: +SKIP
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from rocky_engine.config import IDENT_RE
from rocky_engine.errors import UsageError

EXAMPLES = ("shop",)

_GITIGNORE = """# rocky: local warehouse and build state
*.duckdb
*.duckdb.wal
target/
.rocky/
"""

_SKELETON = {
    "rocky.toml": """[project]
name = "{name}"
dialect = "duckdb"

[warehouse]
type = "duckdb"
path = "warehouse.duckdb"
schema = "main"

[agent]
provider = "offline"   # offline | openai | fusion
""",
    "sources/raw.toml": """# Declare the upstream tables your models read; rocky checks drift against this file.
schema = "raw"

# [tables.orders.columns]
# id = {{ type = "INTEGER", nullable = false }}
# amount = "DECIMAL(10,2)"
""",
    "models/.gitkeep": "",
    "seeds/.gitkeep": "",
}


def init_project(target: Path, *, example: str | None = None) -> list[Path]:
    """Create a project in ``target`` (which must be empty or absent); return files written."""
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise UsageError(
            f"{target} is not empty",
            hint="choose a new folder, or an empty one, for the project",
        )
    if example is not None and example not in EXAMPLES:
        raise UsageError(f"unknown example {example!r}", hint=f"choose one of: {', '.join(EXAMPLES)}")
    name = target.name.replace("-", "_")
    if not IDENT_RE.match(name):
        name = "project"
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if example:
        source = resources.files("rocky_engine") / "examples" / example
        with resources.as_file(source) as folder:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    dest = target / path.relative_to(folder)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
                    written.append(dest)
    else:
        for rel, text in _SKELETON.items():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text.format(name=name), encoding="utf-8")
            written.append(dest)
    gitignore = target / ".gitignore"
    gitignore.write_text(_GITIGNORE, encoding="utf-8")
    written.append(gitignore)
    return written
