"""The docs stay true: every command documented, every link resolves, every rocky command
line in the docs parses, and docs/json.md matches the real JSON output of the commands on
the example project (the DESIGN §2 contract fields in particular).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import duckdb
import pytest

from rocky_engine.cli.reference import iter_commands
from rocky_engine.scaffold import init_project

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]
COMMANDS = [path for path, _ in iter_commands()]
# Pages a newcomer reads; generated pages (cli.md, diagnostics.md) are checked elsewhere.
PROSE = ["index.md", "quickstart.md", "concepts.md", "json.md", "github-action.md",
         "performance.md", "site.md", "warehouses.md", "dagster.md", "dbt.md"]

# DESIGN §2: the JSON fields scripts depend on ("fields may be added, never renamed").
CONTRACT: dict[str, set[str]] = {
    "compile": {"ok", "models", "models[].name", "models[].path", "models[].columns",
                "models[].columns[].name", "models[].columns[].type", "diagnostics",
                "diagnostics[].code", "diagnostics[].severity", "diagnostics[].message",
                "diagnostics[].file", "diagnostics[].line", "diagnostics[].col"},
    "lineage": {"root", "direction", "nodes", "nodes[].id", "edges", "edges[].from",
                "edges[].to", "edges[].kind"},
    "drift": {"changes", "changes[].kind", "changes[].table", "changes[].column",
              "changes[].new_column", "changes[].new_table", "changes[].old_type",
              "changes[].new_type", "impact", "impact[].model", "impact[].column",
              "impact[].status"},
    "repair": {"status", "branch", "commit", "pr_url", "patches", "patches[].path",
               "validation"},
    "import dbt": {"ok", "dest", "path", "models", "models[].name", "models[].status",
                   "models[].file", "models[].notes", "tests", "tests.imported",
                   "tests.skipped", "tests.skipped[].model", "tests.skipped[].test",
                   "tests.skipped[].reason"},
}
CONTRACT_VALUES: dict[str, set[str]] = {
    "lineage": {"copy", "cast", "transform", "aggregate", "window", "filter", "join", "group"},
    "drift": {"column_added", "column_removed", "column_renamed", "column_type_changed",
              "table_added", "table_removed", "table_renamed", "broken", "affected"},
    "repair": {"no_drift", "validated", "needs_review", "failed"},
    "import dbt": {"manifest", "jinja", "imported", "partial", "refused", "equal", "differs",
                   "not_run"},
}
JSON_SECTIONS = {"compile", "lineage", "run", "test", "branch diff", "drift", "repair",
                 "explain", "gen-tests", "docs", "import dbt"}


def _read(page: str | Path) -> str:
    path = page if isinstance(page, Path) else DOCS / page
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- every command documented


@pytest.mark.parametrize("path", COMMANDS)
def test_command_has_cli_reference_entry(path: str) -> None:
    assert f"## `{path}`" in _read("cli.md"), f"{path} has no section in docs/cli.md"


@pytest.mark.parametrize("path", COMMANDS)
def test_command_is_explained_in_concepts(path: str) -> None:
    assert re.search(re.escape(path) + r"\b", _read("concepts.md")), (
        f"{path} is not mentioned in docs/concepts.md")


def test_quickstart_walks_the_whole_story() -> None:
    text = _read("quickstart.md")
    for step in ("pip install rocky-intent", "pip install .", "rocky init shop --example shop",
                 "rocky seed", "rocky compile", "rocky run", "rocky test", "rocky lineage",
                 "rocky drift", "rocky repair", "import duckdb", "RENAME COLUMN",
                 "pr_body.md", "git diff"):
        assert step in text, f"the quickstart lost the step {step!r}"


def test_readme_keeps_setup_commands_and_links_docs() -> None:
    text = _read(REPO / "README.md")
    assert "make demo" in text and "make test" in text
    for page in PROSE + ["cli.md", "diagnostics.md"]:
        assert f"docs/{page}" in text, f"README does not link docs/{page}"


def test_index_links_every_page() -> None:
    text = _read("index.md")
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in text, f"docs/index.md does not link {page.name}"


def test_performance_page_has_figures_slot_and_real_scripts() -> None:
    text = _read("performance.md")
    assert "<!-- figures -->" in text
    for script in ("bench/compile_bench.py", "bench/run_bench.py"):
        assert script in text and (REPO / script).is_file()


# ---------------------------------------------------------------- links


_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^`]*)$")
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`+[^`\n]*`+")


def _lines(text: str) -> Iterator[tuple[str, str | None]]:
    """Each line that is not a fence, with the info string of the code block it is in
    (``None`` outside blocks). A block closes only with the same fence, at least as long,
    so a ```` ````markdown ```` block may hold ```` ``` ```` blocks."""
    fence: str | None = None
    info: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if m and fence is None:
            fence, info = m.group(1), m.group(2).strip()
            continue
        if (m and fence is not None and not m.group(2).strip()
                and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)):
            fence, info = None, None
            continue
        yield line, info


def _prose_lines(text: str) -> Iterator[str]:
    """Lines outside fenced code blocks, with inline code spans removed."""
    for line, info in _lines(text):
        if info is None:
            yield _CODE_SPAN.sub("", line)


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line, info in _lines(path.read_text(encoding="utf-8"))
            if info is None and line.startswith("#")}


def _links(page: Path) -> list[str]:
    return [m.group(1) for line in _prose_lines(_read(page)) for m in _LINK.finditer(line)]


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = _broken_links(page)
    assert not broken, f"{page.name}: broken links: {broken}"


def test_link_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# Real heading\n", encoding="utf-8")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md#real-heading) [web](https://example.com) [self](#top)\n"
                    "# Top\n[gone](missing.md) [anchor](b.md#nope) `[code](x.md)`\n"
                    "```\n[in a block](y.md)\n```\n", encoding="utf-8")
    assert _broken_links(page) == ["missing.md (no such file)",
                                   "b.md#nope (no heading #nope in b.md)"]


def test_link_checker_sees_links() -> None:
    # Guards the checker itself: the pages do link to each other.
    assert "concepts.md#intent" in _links(DOCS / "quickstart.md")
    assert "concepts.md#lineage" in _links(DOCS / "json.md")
    assert _slug("`rocky branch diff`") == "rocky-branch-diff"
    assert _slug("Providers and fusion") == "providers-and-fusion"
    nested = "````markdown\n# in\n```mermaid\nx\n```\n# still in\n````\n# out"
    assert [(line, info) for line, info in _lines(nested) if line.startswith("#")] == [
        ("# in", "markdown"), ("# still in", "markdown"), ("# out", None)]


# ---------------------------------------------------------------- command lines in the docs


_SHELL_BLOCKS = {"", "sh", "bash", "console", "shell"}


def _doc_command_lines() -> list[tuple[str, str]]:
    """Every ``rocky ...`` line in a shell code block of the prose pages: (page, line)."""
    found = []
    for name in PROSE + ["../README.md"]:
        for line, info in _lines(_read(DOCS / name)):
            if info is None or info not in _SHELL_BLOCKS:
                continue
            text = line.strip().removeprefix("$ ")
            for part in text.split("&&"):
                part = re.sub(r"^(\w+=\S+\s+)+", "", part.strip())  # VAR=value rocky ...
                part = re.sub(r"^\.venv/bin/", "", part)
                if part.startswith("rocky "):
                    found.append((name, part))
    return found


DOC_LINES = _doc_command_lines()


def _parse(words: list[str]) -> None:
    """Resolve subcommands and parse options exactly as click would, without running."""
    from rocky_engine.cli import cli

    ctx = cli.make_context("rocky", list(words[1:]), resilient_parsing=False)
    cmd: click.Command = cli
    while isinstance(cmd, click.Group):
        with warnings.catch_warnings():
            # click 8.2 deprecates protected_args (the subcommand and its arguments) but
            # still keeps them apart from ctx.args.
            warnings.simplefilter("ignore", DeprecationWarning)
            args = [*getattr(ctx, "protected_args", []), *ctx.args]
        if not args:
            return
        name, sub, rest = cmd.resolve_command(ctx, list(args))
        assert sub is not None
        ctx = sub.make_context(name or "", rest, parent=ctx, resilient_parsing=False)
        cmd = sub


def test_docs_have_command_lines() -> None:
    pages = {page for page, _ in DOC_LINES}
    assert {"quickstart.md", "concepts.md"} <= pages, pages


@pytest.mark.parametrize("page,line", DOC_LINES, ids=[f"{p}:{line}" for p, line in DOC_LINES])
def test_doc_command_line_parses(page: str, line: str) -> None:
    words = shlex.split(line.replace("…", "x"), comments=True)
    try:
        _parse(words)
    except click.UsageError as exc:
        pytest.fail(f"{page}: `{line}` is not a valid rocky command: {exc.format_message()}")


def test_command_line_check_rejects_bad_lines() -> None:
    with pytest.raises(click.UsageError):
        _parse(["rocky", "drift", "--no-such-option"])
    with pytest.raises(click.UsageError):
        _parse(["rocky", "no-such-command"])


# ---------------------------------------------------------------- JSON contracts


@dataclass(frozen=True)
class Field:
    path: str
    types: tuple[str, ...]
    contract: bool


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def documented_fields() -> dict[str, list[Field]]:
    """The field tables of docs/json.md, per section."""
    out: dict[str, list[Field]] = {}
    section = ""
    for line in _read("json.md").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if section not in JSON_SECTIONS or not line.startswith("| `"):
            continue
        cells = _split_row(line)
        names = re.findall(r"`([^`]+)`", cells[0])
        types = tuple(t.strip() for t in cells[1].split("|"))
        for name in names:
            out.setdefault(section, []).append(
                Field(name, types, cells[2].startswith("**contract**")))
    return out


def _values(doc: Any, path: str) -> tuple[list[Any], list[str]]:
    """Values at ``a[].b.c``; and where a key was missing."""
    current: list[Any] = [doc]
    missing: list[str] = []
    for token in path.split("."):
        is_list = token.endswith("[]")
        key = token.removesuffix("[]")
        nxt: list[Any] = []
        for obj in current:
            if not isinstance(obj, dict) or key not in obj:
                missing.append(f"{key} in {str(obj)[:120]}")
                continue
            value = obj[key]
            if is_list:
                assert isinstance(value, list), f"{path}: {key} is not a list"
                nxt.extend(value)
            else:
                nxt.append(value)
        current = nxt
    return current, missing


def _type_ok(value: Any, types: tuple[str, ...]) -> bool:
    for t in types:
        if t == "null" and value is None:
            return True
        if t == "str" and isinstance(value, str):
            return True
        if t == "bool" and isinstance(value, bool):
            return True
        if t == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t.startswith("[") and isinstance(value, list):
            return True
        if t.startswith("{") and isinstance(value, dict):
            return True
    return False


def _cli(*args: str) -> tuple[int, str]:
    from rocky_engine.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue()


def _json(*args: str) -> dict[str, Any]:
    code, out = _cli(*args, "--format", "json")
    assert code in (0, 1), f"rocky {' '.join(args)} exited {code}: {out[:500]}"
    data = json.loads(out)
    assert "error" not in data, data
    return data


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Docs", "GIT_AUTHOR_EMAIL": "docs@example.com",
           "GIT_COMMITTER_NAME": "Docs", "GIT_COMMITTER_EMAIL": "docs@example.com"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def real_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every documented command, run on a fresh example project, the quickstart's way."""
    root = tmp_path_factory.mktemp("docs") / "shop"
    init_project(root, example="shop")
    p = ("--project", str(root))
    out: dict[str, dict[str, Any]] = {}
    assert _cli("seed", *p)[0] == 0
    out["compile"] = _json("compile", *p)
    out["lineage"] = _json("lineage", "customers.lifetime_revenue", *p)
    out["run"] = _json("run", *p)
    out["test"] = _json("test", *p)
    out["explain"] = _json("explain", "customers", *p)
    out["gen-tests"] = _json("gen-tests", "daily_revenue", *p)
    assert _cli("branch", "create", "docs", *p)[0] == 0
    assert _cli("run", "--branch", "docs", "--select", "daily_revenue", *p)[0] == 0
    out["branch diff"] = _json("branch", "diff", "docs", *p)
    assert _cli("branch", "drop", "docs", *p)[0] == 0
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "shop project")
    assert _cli("drift", *p)[0] == 0  # baseline: stores value fingerprints
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        con.execute("ALTER TABLE raw.orders RENAME COLUMN amount TO order_total")
    finally:
        con.close()
    out["drift"] = _json("drift", *p)
    out["docs"] = _json("docs", *p)
    out["repair"] = _json("repair", *p)
    # The dbt fixture through the Jinja path (no dbt needed): refusals and skipped tests.
    code, text = _cli("import", "dbt", str(REPO / "fixtures" / "dbt" / "shop"),
                      str(root.parent / "imported"), "--jinja", "--format", "json")
    assert code == 1, text
    out["import dbt"] = json.loads(text)
    # Last, on the main checkout: a compile with an error, so diagnostics are exercised.
    sql = root / "models" / "daily_revenue.sql"
    sql.write_text(sql.read_text(encoding="utf-8").replace("= 'completed'", "= 1"),
                   encoding="utf-8")
    out["compile"] = _json("compile", *p)
    assert out["compile"]["ok"] is False and out["compile"]["diagnostics"][0]["code"] == "R110"
    return out


def test_json_page_documents_every_command() -> None:
    assert set(documented_fields()) == JSON_SECTIONS


@pytest.mark.parametrize("command", sorted(CONTRACT))
def test_design_contract_fields_are_documented(command: str) -> None:
    fields = {f.path: f for f in documented_fields()[command]}
    for path in sorted(CONTRACT[command]):
        assert path in fields, f"docs/json.md `{command}` does not document `{path}`"
        assert fields[path].contract, f"`{path}` of `{command}` is not marked **contract**"
    marked = {f.path for f in fields.values() if f.contract}
    assert marked <= CONTRACT[command], f"marked contract but not in DESIGN §2: {marked - CONTRACT[command]}"


@pytest.mark.parametrize("command", sorted(CONTRACT_VALUES))
def test_design_contract_values_are_documented(command: str) -> None:
    text = _read("json.md").split(f"## {command}\n", 1)[1].split("\n## ", 1)[0]
    for value in sorted(CONTRACT_VALUES[command]):
        assert f"`{value}`" in text, f"docs/json.md `{command}` does not list `{value}`"


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(JSON_SECTIONS))
def test_documented_fields_match_real_output(command: str,
                                             real_output: dict[str, dict[str, Any]]) -> None:
    doc = real_output[command]
    problems = []
    for f in documented_fields()[command]:
        values, missing = _values(doc, f.path)
        if missing and "absent" not in f.types:
            problems.append(f"`{f.path}` missing ({missing[0]})")
            continue
        if f.contract and not values and "[]" not in f.path:
            problems.append(f"`{f.path}` has no value")
        bad = [v for v in values if not _type_ok(v, f.types)]
        if bad:
            problems.append(f"`{f.path}` documented {'|'.join(f.types)}, got {bad[0]!r:.80}")
    assert not problems, f"docs/json.md `{command}` vs real output: {problems}"


@pytest.mark.slow
def test_real_output_exercises_the_contract(real_output: dict[str, dict[str, Any]]) -> None:
    # The example run reaches every list the contract describes, so the checks above bite.
    for command, paths in CONTRACT.items():
        for path in paths:
            values, missing = _values(real_output[command], path)
            assert values and not missing, f"{command}: `{path}` not exercised"
    assert real_output["repair"]["status"] == "validated"
    assert real_output["drift"]["changes"][0]["kind"] == "column_renamed"
    assert real_output["branch diff"]["has_changes"] is False


def test_field_table_parser() -> None:
    fields = {f.path: f for f in documented_fields()["compile"]}
    assert fields["ok"].types == ("bool",) and fields["ok"].contract
    assert fields["diagnostics[].hint"].types == ("str", "null")
    assert not _type_ok(None, ("str",)) and _type_ok(None, ("str", "null"))
    assert not _type_ok(True, ("int",)) and _type_ok(3, ("float",))
    assert _values({"a": [{"b": 1}, {"c": 2}]}, "a[].b") == ([1], ["b in {'c': 2}"])
