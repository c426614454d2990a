"""`rocky drift` on the command line: exit codes, JSON, --accept confirmation."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import alter


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_drift_check_exits_0(known_shop: Path, run_cli: Callable[..., object]) -> None:
    r = run_cli("drift", "--check", "--project", str(known_shop))
    assert r.exit_code == 0, r.output
    assert "no drift" in r.stdout


def test_drift_check_exits_1_and_plain_drift_exits_0(known_shop: Path,
                                                     run_cli: Callable[..., object]) -> None:
    alter(known_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    r = run_cli("drift", "--check", "--project", str(known_shop))
    assert r.exit_code == 1
    assert "raw.orders.amount renamed to total" in r.stdout
    assert "broken" in r.stdout and "rocky repair" in r.stdout
    assert run_cli("drift", "--project", str(known_shop)).exit_code == 0


def test_json_output(known_shop: Path, run_cli: Callable[..., object]) -> None:
    alter(known_shop, "ALTER TABLE raw.customers DROP COLUMN email")
    r = run_cli("drift", "--check", "--project", str(known_shop), "--format", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert [c["kind"] for c in data["changes"]] == ["column_removed"]
    assert {"model": "stg_customers", "column": "email", "status": "broken"}.items() <= \
        data["impact"][0].items()
    assert data["impact"][0]["diagnostic"]["code"]


def test_accept_refuses_without_a_terminal(known_shop: Path,
                                           run_cli: Callable[..., object]) -> None:
    alter(known_shop, "ALTER TABLE raw.customers ADD COLUMN tier VARCHAR")
    before = (known_shop / "sources" / "raw.toml").read_text()
    r = run_cli("drift", "--accept", "--project", str(known_shop))
    assert r.exit_code == 2
    assert "--yes" in r.stderr
    assert '+tier = "VARCHAR"' in r.stdout  # what it would have written is shown
    assert (known_shop / "sources" / "raw.toml").read_text() == before


def test_accept_yes_writes_and_json_reports_it(known_shop: Path,
                                               run_cli: Callable[..., object]) -> None:
    alter(known_shop, "ALTER TABLE raw.customers ADD COLUMN tier VARCHAR")
    r = run_cli("drift", "--accept", "--yes", "--format", "json", "--project", str(known_shop))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["accepted"]["files"] == ["sources/raw.toml"]
    assert '+tier = "VARCHAR"' in data["accepted"]["diff"]
    assert 'tier = "VARCHAR"' in (known_shop / "sources" / "raw.toml").read_text()
    assert run_cli("drift", "--check", "--project", str(known_shop)).exit_code == 0


@pytest.mark.parametrize(("answer", "written"), [("y\n", True), ("n\n", False)])
def test_accept_asks_first(known_shop: Path, run_cli: Callable[..., object],
                           monkeypatch: pytest.MonkeyPatch, answer: str, written: bool) -> None:
    alter(known_shop, "ALTER TABLE raw.customers ADD COLUMN tier VARCHAR")
    monkeypatch.setattr("sys.stdin", _Tty(answer))
    r = run_cli("drift", "--accept", "--project", str(known_shop))
    assert r.exit_code == 0, r.output
    assert '+tier = "VARCHAR"' in r.stdout  # the diff is shown before the question
    assert ('tier = "VARCHAR"' in (known_shop / "sources" / "raw.toml").read_text()) is written
    assert ("nothing written" in r.stdout) is not written


def test_accept_with_nothing_to_accept(known_shop: Path, run_cli: Callable[..., object]) -> None:
    r = run_cli("drift", "--accept", "--project", str(known_shop))
    assert r.exit_code == 0 and "nothing to accept" in r.stdout


@pytest.mark.parametrize("args", [("--check", "--accept"), ("--yes",)])
def test_usage_errors(known_shop: Path, run_cli: Callable[..., object],
                      args: tuple[str, ...]) -> None:
    r = run_cli("drift", *args, "--project", str(known_shop))
    assert r.exit_code == 2 and "error" in r.stderr


def test_missing_warehouse_exits_2(shop: Path, run_cli: Callable[..., object]) -> None:
    r = run_cli("drift", "--project", str(shop))
    assert r.exit_code == 2
    assert "rocky seed" in r.stderr and "Traceback" not in r.output


def test_help_has_an_example(run_cli: Callable[..., object]) -> None:
    r = run_cli("drift", "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout and "rocky drift --check" in r.stdout
