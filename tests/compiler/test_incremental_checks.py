"""Compile checks of `[incremental]`: key and watermark exist with usable types, grain,
contracts, and bad sidecars as load errors (exit 2, one line naming the file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rocky_engine.errors import ProjectLoadError
from rocky_engine.project import load_project
from tests.compiler.conftest import compile_dir

SQL = """SELECT o.id AS order_id, o.customer_id, o.status, o.amount,
       CAST(o.amount AS DOUBLE) AS score, p.paid_at AS updated_at, o.order_date
FROM raw.orders AS o LEFT JOIN raw.payments AS p ON p.order_id = o.id
"""


def _sidecar(body: str, grain: str | None = None) -> str:
    intent = f'\n[intent]\npurpose = "orders"\ngrain = {grain}\n' if grain else ""
    return f'materialized = "incremental"\n{intent}\n[incremental]\n{body}'


def _codes(make_project: Callable[..., Path], body: str, *, grain: str | None = None,
           extra: str = "") -> list[tuple[str, str, int]]:
    root = make_project({"models/inc.sql": SQL, "models/inc.toml": _sidecar(body, grain) + extra})
    result = compile_dir(root)
    return [(d.code, d.file, d.line) for d in result.diagnostics if d.model == "inc"]


def test_clean_incremental_model_compiles(make_project: Callable[..., Path]) -> None:
    assert _codes(make_project, 'unique_key = ["order_id"]\nwatermark = "order_date"\n'
                  'lookback = "3 days"\n', grain='["order_id"]') == []


def test_key_and_watermark_must_be_output_columns(make_project: Callable[..., Path]) -> None:
    got = _codes(make_project, 'unique_key = ["orderid"]\nwatermark = "updatedat"\n')
    assert ("R600", "models/inc.toml", 4) in got and ("R601", "models/inc.toml", 5) in got
    root = make_project({"models/inc.sql": SQL, "models/inc.toml": _sidecar(
        'unique_key = ["orderid"]\nwatermark = "updatedat"\n')})
    r600 = next(d for d in compile_dir(root).diagnostics if d.code == "R600")
    assert r600.hint == 'did you mean "order_id"?' and not compile_dir(root).ok


def test_unusable_types(make_project: Callable[..., Path]) -> None:
    got = {c for c, _, _ in _codes(make_project, 'unique_key = ["score"]\nwatermark = "status"\n')}
    assert {"R602", "R603"} <= got


def test_lookback_must_fit_the_watermark(make_project: Callable[..., Path]) -> None:
    assert "R604" in {c for c, _, _ in _codes(
        make_project, 'unique_key = ["order_id"]\nwatermark = "order_id"\nlookback = "2 days"\n')}
    assert "R604" in {c for c, _, _ in _codes(
        make_project, 'unique_key = ["order_id"]\nwatermark = "updated_at"\nlookback = "5"\n')}
    assert _codes(make_project, 'unique_key = ["order_id"]\nwatermark = "order_id"\n'
                  'lookback = "100"\n') == []


def test_merge_key_not_the_grain_is_a_warning(make_project: Callable[..., Path]) -> None:
    root = make_project({"models/inc.sql": SQL, "models/inc.toml": _sidecar(
        'unique_key = ["customer_id"]\nwatermark = "order_date"\n', grain='["order_id"]')})
    result = compile_dir(root)
    assert [d.code for d in result.diagnostics] == ["W600"] and result.ok


def test_nullable_key_is_a_warning(make_project: Callable[..., Path]) -> None:
    # updated_at comes from the nullable side of a LEFT JOIN.
    got = _codes(make_project, 'strategy = "delete+insert"\nunique_key = ["updated_at"]\n'
                 'watermark = "order_date"\n')
    assert [c for c, _, _ in got] == ["W601"]


def test_contracts_apply_as_for_tables(make_project: Callable[..., Path]) -> None:
    got = _codes(make_project, 'unique_key = ["order_id"]\nwatermark = "order_date"\n',
                 extra='\n[columns.order_id]\ntype = "BIGINT"\n')
    assert [c for c, _, _ in got] == ["R121"]


@pytest.mark.parametrize(("sidecar", "message"), [
    ('materialized = "incremental"\n', 'needs an [incremental] table'),
    ('materialized = "table"\n[incremental]\nunique_key = ["id"]\n', 'use materialized = "incremental"'),
    ('materialized = "incremental"\n[incremental]\nwatermark = "ts"\n', "needs `unique_key`"),
    ('materialized = "incremental"\n[incremental]\nstrategy = "append"\n', "needs `watermark`"),
    (('materialized = "incremental"\n[incremental]\nstrategy = "append"\nwatermark = "t"\n'
      'lookback = "1 day"\n'), "needs `unique_key`"),
    ('materialized = "incremental"\n[incremental]\nstrategy = "upsert"\nunique_key = "id"\n',
     "strategy"),
    ('materialized = "incremental"\n[incremental]\nunique_key = "id"\nlookback = "2 dayz"\n',
     "not a duration"),
    ('materialized = "incremental"\n[incremental]\nunique_key = "id"\non_schema_change = "x"\n',
     "on_schema_change"),
    ('materialized = "incremental"\n[incremental]\nunique_key = "id"\nwatermrk = "ts"\n',
     "did you mean `watermark`"),
])
def test_bad_sidecars_are_load_errors(make_project: Callable[..., Path], sidecar: str,
                                      message: str) -> None:
    root = make_project({"models/inc.sql": "SELECT 1 AS id", "models/inc.toml": sidecar})
    with pytest.raises(ProjectLoadError) as err:
        load_project(root)
    text = err.value.render() if hasattr(err.value, "render") else str(err.value)
    assert "models/inc.toml" in text and message in text, text


def test_cli_bad_sidecar_exit_2_without_traceback(make_project: Callable[..., Path],
                                                  run_cli) -> None:
    root = make_project({"models/inc.sql": "SELECT 1 AS id",
                         "models/inc.toml": 'materialized = "incremental"\n'})
    r = run_cli("run", "--project", str(root))
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "models/inc.toml:1" in r.output and "[incremental]" in r.output


def test_the_editor_reports_the_same_checks(make_project: Callable[..., Path]) -> None:
    """rocky lsp re-types edited models in memory (LiveState): same R600/W600 as compile."""
    from rocky_engine.compiler import compile_project
    from rocky_engine.compiler.incremental import LiveState, replace_model_sql

    root = make_project({"models/inc.sql": SQL, "models/inc.toml": _sidecar(
        'unique_key = ["customer_id"]\nwatermark = "order_date"\n', grain='["order_id"]')})
    project = load_project(root)
    state = LiveState.of(compile_project(project))
    edited = replace_model_sql(project, "inc", SQL.replace("o.customer_id,", "o.customer_id AS cust,"))
    state.recompile(edited, ["inc"])
    live = sorted((d.code, d.line) for d in state.result().diagnostics if d.model == "inc")
    (root / "models" / "inc.sql").write_text(edited.models["inc"].sql)
    full = sorted((d.code, d.line) for d in compile_dir(root).diagnostics if d.model == "inc")
    assert live == full == [("R600", 8), ("W600", 8)]
