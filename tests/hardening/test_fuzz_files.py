"""Random and truncated SQL, TOML and CSV through the real CLI: a clear error or a result.

Hypothesis drives the inputs (derandomized, so a failure reproduces; modest example
counts keep the folder fast). Each example rewrites one file of a project that is reused
across examples — a stale compile cache is part of what is being tested.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hardening_helpers import HOSTILE, assert_clean, canary_alive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SQL_TOKENS = ["SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "JOIN", "ON", "AS", "WITH",
              "(", ")", ",", ";", "*", "'", '"', "--", "/*", "*/", "UNION ALL", "CAST", "NULL",
              "raw.orders", "stg_orders", "amount", "id", "1", "1e999", "SUM(", "OVER (",
              "PARTITION BY", "CASE WHEN", "THEN", "END", "DROP TABLE vault.canary_keep",
              "ATTACH 'x.db'", "COPY raw.orders TO 'out.csv'", "\\", "é", "\x00", "{{", "}}"]


def _model_text() -> str:
    return (HOSTILE / "models" / "wide_join.sql").read_text(encoding="utf-8")


Cli = Callable[..., Any]


@pytest.fixture
def project(sandbox: Path) -> Path:
    return sandbox


def _compile(run_cli: Cli, root: Path) -> Any:
    return run_cli("compile", "--project", str(root), "--format", "json")


def _check_compile_json(res: object, case: str) -> None:
    assert_clean(res, (0, 1, 2), category="sql", case=case)
    data = json.loads(res.stdout)
    if res.exit_code == 2:
        assert data["error"]["code"].startswith("R")
    else:
        assert isinstance(data["diagnostics"], list)
        if res.exit_code == 1:
            assert any(d["severity"] == "error" and d["file"] for d in data["diagnostics"])


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_sql(project: Path, run_cli: Cli, cut: int) -> None:
    text = _model_text()
    (project / "models" / "fuzz.sql").write_text(text[: cut % (len(text) + 1)], encoding="utf-8")
    _check_compile_json(_compile(run_cli, project), f"truncated at {cut}")


@FUZZ
@given(tokens=st.lists(st.sampled_from(SQL_TOKENS), min_size=1, max_size=25))
def test_token_soup_sql(project: Path, run_cli: Cli, tokens: list[str]) -> None:
    (project / "models" / "fuzz.sql").write_text(" ".join(tokens), encoding="utf-8")
    _check_compile_json(_compile(run_cli, project), "tokens: " + " ".join(tokens)[:80])


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text_sql(project: Path, run_cli: Cli, text: str) -> None:
    (project / "models" / "fuzz.sql").write_text(text, encoding="utf-8", errors="surrogatepass")
    _check_compile_json(_compile(run_cli, project), "random text")


def test_binary_and_bad_encoding_sql(project: Path, run_cli: Cli) -> None:
    (project / "models" / "fuzz.sql").write_bytes(b"SELECT \xff\xfe\x00 1 AS x")
    res = _compile(run_cli, project)
    assert_clean(res, (1, 2), category="sql", case="bad utf-8")
    assert "fuzz.sql" in res.output


# --------------------------------------------------------------------------- TOML

TOML_FILES = ["rocky.toml", "sources/raw.toml", "models/customers.toml"]


@FUZZ
@given(which=st.sampled_from(TOML_FILES), cut=st.integers(min_value=0, max_value=5000))
def test_truncated_toml(project: Path, run_cli: Cli, which: str, cut: int) -> None:
    path = project / which
    original = path.read_text(encoding="utf-8")
    path.write_text(original[: cut % (len(original) + 1)], encoding="utf-8")
    try:
        res = _compile(run_cli, project)
        assert_clean(res, (0, 1, 2), category="toml", case=f"{which} cut {cut}")
        if res.exit_code == 2:
            err = json.loads(res.stdout)["error"]
            # A config error names the file it comes from.
            assert err["file"], err
    finally:
        path.write_text(original, encoding="utf-8")


@FUZZ
@given(which=st.sampled_from(TOML_FILES), pos=st.integers(min_value=0, max_value=5000),
       junk=st.sampled_from(['"', "[", "]", "=", "\n[tables]\n", "\x00", "é", "'''",
                             "\nschema = 1\n", "\n[[tests]]\ntype = \"unique\"\n",
                             "\nmaterialized = \"table; DROP TABLE vault.canary_keep\"\n",
                             "inf", "{", "\n[intent]\ngrain = 5\n"]))
def test_mutated_toml(project: Path, run_cli: Cli, which: str, pos: int, junk: str) -> None:
    path = project / which
    original = path.read_text(encoding="utf-8")
    at = pos % (len(original) + 1)
    path.write_text(original[:at] + junk + original[at:], encoding="utf-8")
    try:
        res = _compile(run_cli, project)
        assert_clean(res, (0, 1, 2), category="toml", case=f"{which} +{junk!r}@{at}")
    finally:
        path.write_text(original, encoding="utf-8")


# --------------------------------------------------------------------------- CSV

CSV_CELLS = st.one_of(
    st.sampled_from(["", "1", "-1", "1.5", "NULL", "abc", '"', '""', "a,b", '"a,b"', "\n",
                     "2024-02-30", "99999999999999999999999", "é", "'; DROP TABLE vault.canary_keep; --",
                     "\x00"]),
    st.text(max_size=8),
)


@FUZZ
@given(rows=st.lists(st.lists(CSV_CELLS, min_size=0, max_size=7), max_size=6),
       header=st.booleans())
def test_random_csv_seed(project: Path, run_cli: Cli, rows: list[list[str]], header: bool) -> None:
    csv = project / "seeds" / "raw" / "orders.csv"
    original = csv.read_bytes()
    lines = ["id,customer_id,order_date,status,amount"] if header else []
    lines += [",".join(r) for r in rows]
    csv.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        res = run_cli("seed", "--project", str(project))
        assert_clean(res, (0, 1, 2), category="csv", case=f"{len(rows)} rows header={header}")
        if res.exit_code != 0:
            assert "orders.csv" in res.output, res.output
        assert canary_alive(project)
    finally:
        csv.write_bytes(original)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=20_000))
def test_truncated_csv_seed(project: Path, run_cli: Cli, cut: int) -> None:
    csv = project / "seeds" / "raw" / "payments.csv"
    original = csv.read_bytes()
    csv.write_bytes(original[: cut % (len(original) + 1)])
    try:
        res = run_cli("seed", "--project", str(project))
        assert_clean(res, (0, 1, 2), category="csv", case=f"payments cut {cut}")
    finally:
        csv.write_bytes(original)


def test_seed_with_a_csv_that_is_a_directory(project: Path, run_cli: Cli) -> None:
    (project / "seeds" / "raw" / "weird.csv").mkdir()
    res = run_cli("seed", "--project", str(project))
    assert_clean(res, (0, 1, 2), category="csv", case="csv is a directory")


CSV_HAZARDS = {
    "utf-8 byte-order mark": ((b"\xef\xbb\xbfid,customer_id,order_date,status,amount\n"
                               b"1,1,2024-01-01,placed,1.0\n"), 0),
    "latin-1 byte": (b"id,customer_id,order_date,status,amount\n1,1,2024-01-01,caf\xe9,1.0\n", 2),
    "NUL byte": (b"id,customer_id,order_date,status,amount\n1,1,2024-01-01,pl\x00aced,1.0\n",
                 None),
    "hostile header": (b'id,"a"";DROP TABLE vault.canary_keep;--",order_date\n1,2,2024-01-01\n', 2),
    "empty file": (b"", 2),
    "header only": (b"id,customer_id,order_date,status,amount\n", 0),
    "5,000 columns": ((",".join(f"c{i}" for i in range(5000)) + "\n").encode(), 2),
    "formula cell": (b"id,customer_id,order_date,status,amount\n1,1,2024-01-01,=cmd|'/c calc'!A1,1\n",
                     0),
    "unterminated quote": (b'id,customer_id,order_date,status,amount\n1,1,2024-01-01,"placed,1\n',
                           2),
    "CRLF and blank lines": ((b"id,customer_id,order_date,status,amount\r\n\r\n"
                              b"1,1,2024-01-01,placed,1.0\r\n"), None),
}


@pytest.mark.parametrize("case", list(CSV_HAZARDS))
def test_csv_hazards(project: Path, run_cli: Cli, case: str) -> None:
    data, expected = CSV_HAZARDS[case]
    (project / "seeds" / "raw" / "orders.csv").write_bytes(data)
    res = run_cli("seed", "--project", str(project))
    assert_clean(res, (0, 1, 2) if expected is None else (expected,), category="csv", case=case)
    if res.exit_code:
        assert "seeds/raw/orders.csv" in res.output, res.output
