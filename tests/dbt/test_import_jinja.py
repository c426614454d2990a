"""The Jinja path: rendering a dbt project without dbt gives what the manifest path gives."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rocky_engine.importers.dbt import import_dbt
from tests.conftest import invoke_cli

# The first test to need dbt installs it (a minute or two on a fresh machine).
pytestmark = pytest.mark.timeout(1200)


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".sql", ".toml", ".csv")}


def test_two_paths_one_result(shop_compiled: Path, tmp_path: Path) -> None:
    via_manifest = import_dbt(shop_compiled, tmp_path / "m")
    via_jinja = import_dbt(shop_compiled, tmp_path / "j", jinja=True)
    assert via_jinja.path == "jinja" and via_manifest.path == "manifest"
    m, j = _files(tmp_path / "m"), _files(tmp_path / "j")
    # The one difference: status_counts reads the warehouse while compiling (run_query);
    # dbt's manifest has its SQL, the Jinja path refuses it with the reason.
    only_m = {k for k in m if k not in j}
    assert only_m == {"models/marts/status_counts.sql", "models/marts/status_counts.toml"}
    assert set(j) <= set(m)
    for name in j:
        assert j[name] == m[name], name
    refused = {r.name: r.notes[0] for r in via_jinja.models if r.status == "refused"}
    assert set(refused) == {"big_orders", "status_counts"}
    assert "run_query" in refused["status_counts"]
    assert via_jinja.tests_imported == via_manifest.tests_imported


def test_jinja_without_any_dbt_run(shop_source: Path, tmp_path: Path) -> None:
    """No target/ at all: the Jinja path is chosen by itself."""
    res = invoke_cli("import", "dbt", str(shop_source), str(tmp_path / "o"), "--format", "json")
    out = json.loads(res.stdout)
    assert out["path"] == "jinja" and res.exit_code == 1
    assert (tmp_path / "o" / "models" / "marts" / "customers.sql").is_file()


def _project(root: Path, files: dict[str, str]) -> Path:
    base = {
        "dbt_project.yml": """
            name: ctx
            config-version: 2
            profile: ctx
            vars:
              region: emea
              ctx:
                scoped: inner
              limit_rows: 10
            models:
              ctx:
                +materialized: table
        """,
        "models/sources.yml": """
            version: 2
            sources:
              - name: app
                schema: landing
                tables:
                  - name: events
                    columns:
                      - {name: id, data_type: integer}
                      - {name: kind, data_type: varchar}
                  - name: untyped
        """,
        "macros/util.sql": """
            {% macro double(x) %}{{ return(x ~ ' * 2') }}{% endmacro %}
            {% macro kinds() %}{% do return(['a', 'b']) %}{% endmacro %}
        """,
        "dbt_packages/helpers/dbt_project.yml": "name: helpers\nconfig-version: 2\n",
        "dbt_packages/helpers/macros/h.sql": """
            {% macro lower_it(c) %}{{ adapter.dispatch('lower_it', 'helpers')(c) }}{% endmacro %}
            {% macro default__lower_it(c) %}lower({{ c }}){% endmacro %}
            {% macro duckdb__lower_it(c) %}lower(trim({{ c }})){% endmacro %}
        """,
    }
    for rel, text in {**base, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_context_features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTX_TEAM", "growth")
    root = _project(tmp_path / "p", {
        "models/base.sql": """
            {{ config(materialized='view') }}
            {% set kinds = kinds() %}
            select id, kind, {{ double('id') }} as twice,
              {{ helpers.lower_it('kind') }} as k,
              '{{ var("region") }}' as region, '{{ var("scoped") }}' as scoped,
              '{{ var("missing", "dflt") }}' as dflt, '{{ env_var("CTX_TEAM") }}' as team,
              '{{ target.name }}/{{ target.schema }}/{{ this.identifier }}' as tgt,
              {% for k in kinds %}kind = '{{ k }}' as is_{{ k }}{% if not loop.last %},{% endif %}{% endfor %}
            from {{ source('app', 'events') }}
            {% if is_incremental() %} where id > (select max(id) from {{ this }}) {% endif %}
            limit {{ var('limit_rows') }}
        """,
        "models/two_arg.sql": "select id from {{ ref('ctx', 'base') }}",
        "models/refuse_statement.sql": """
            {% call statement('x', fetch_result=True) %}select max(id) from {{ ref('base') }}{% endcall %}
            select 1 as one
        """,
        "models/refuse_adapter.sql": """
            {% set cols = adapter.get_columns_in_relation(ref('base')) %}
            select 1 as one
        """,
        "models/refuse_var.sql": "select {{ var('nope') }} as x",
        "models/refuse_late.sql": "select 1 as x\n-- fine so far\n{% set r = run_query('select now()') %}\n",
        "models/refuse_env.sql": "select '{{ env_var('CTX_UNSET_XYZ') }}' as x",
        "models/refuse_undefined.sql": "select {{ no_such_macro() }} as x",
        "models/refuse_ref.sql": "select * from {{ ref('ghost') }}",
        "models/refuse_syntax.sql": "select 1 as x\n{% if %}\n",
        "models/refuse_untyped.sql": "select * from {{ source('app', 'untyped') }}",
        "models/reads_refused.sql": "select * from {{ ref('refuse_var') }}",
        "models/off.sql": "{{ config(enabled=false) }}\nselect 1 as x",
        "models/bad_type.sql": "select * from {{ source('app2', 'weird') }}",
        "models/weird_src.yml": """
            version: 2
            sources:
              - name: app2
                schema: landing
                tables:
                  - name: weird
                    columns: [{name: id, data_type: "not a type"}]
        """,
    })
    report = import_dbt(root, tmp_path / "out")
    by = {m.name: m for m in report.models}
    base = (tmp_path / "out" / "models" / "base.sql").read_text()
    for needle in ("id * 2 AS twice", "LOWER(TRIM(kind)) AS k", "'emea' AS region",
                   "'inner' AS scoped", "'dflt' AS dflt", "'growth' AS team",
                   "'dev/main/base' AS tgt", "kind = 'a' AS is_a", "kind = 'b' AS is_b",
                   "FROM landing.events", "LIMIT 10"):
        assert needle in base, (needle, base)
    assert "max(id)" not in base.lower()  # is_incremental() is false: the full build
    assert 'materialized = "view"' in (tmp_path / "out" / "models" / "base.toml").read_text()
    assert "FROM base" in (tmp_path / "out" / "models" / "two_arg.sql").read_text()
    reasons = {n: by[n].notes[0] for n in by if by[n].status == "refused"}
    assert "statement('x')" in reasons["refuse_statement"]
    assert "it queries" in reasons["refuse_statement"]
    assert "adapter.get_columns_in_relation" in reasons["refuse_adapter"]
    assert "var('nope')" in reasons["refuse_var"]
    assert by["refuse_adapter"].line == 1 and by["refuse_statement"].line == 1
    assert by["refuse_late"].line == 3 and "run_query" in reasons["refuse_late"]
    assert "depends on when it runs" in reasons["refuse_late"]
    assert "CTX_UNSET_XYZ" in reasons["refuse_env"]
    assert "no_such_macro" in reasons["refuse_undefined"]
    assert "ref('ghost')" in reasons["refuse_ref"]
    assert "syntax" in reasons["refuse_syntax"] and by["refuse_syntax"].line == 2
    assert "data_type" in reasons["refuse_untyped"]
    assert "refuse_var, which is refused" in reasons["reads_refused"]
    assert "not a SQL type (id 'not a type')" in reasons["bad_type"]
    assert "off" not in by and any("disabled in dbt" in n and "off" in n for n in report.notes)
    assert set(reasons) == {"refuse_statement", "refuse_adapter", "refuse_var", "refuse_env",
                            "refuse_late",
                            "refuse_undefined", "refuse_ref", "refuse_syntax",
                            "refuse_untyped", "reads_refused", "bad_type"}
    src = (tmp_path / "out" / "sources" / "app.toml").read_text()
    assert 'schema = "landing"' in src and "untyped" not in src


def test_hard_coded_table_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"models/hard.sql": "select * from analytics.orders"})
    report = import_dbt(root, tmp_path / "out")
    hard = next(m for m in report.models if m.name == "hard")
    assert hard.status == "refused" and "analytics.orders" in hard.notes[0]


def test_dispatch_search_order_lets_the_project_override(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {
        "macros/override.sql": "{% macro duckdb__lower_it(c) %}upper({{ c }}){% endmacro %}",
        "models/m.sql": "select {{ helpers.lower_it('kind') }} as k from {{ source('app', 'events') }}",
    })
    # dbt searches the root project before an installed package's namespace (checked
    # against dbt 1.11: `select upper(...)`), unless `dispatch:` says otherwise.
    plain = import_dbt(root, tmp_path / "a")
    assert plain.count("refused") == 0
    assert "UPPER(kind)" in (tmp_path / "a" / "models" / "m.sql").read_text()
    with (root / "dbt_project.yml").open("a") as f:
        f.write("dispatch:\n  - macro_namespace: helpers\n    search_order: [helpers]\n")
    import_dbt(root, tmp_path / "b")
    assert "LOWER(TRIM(kind))" in (tmp_path / "b" / "models" / "m.sql").read_text()


def test_names_rocky_cannot_take_are_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {
        "models/my-model.sql": "select 1 as x",
        "models/fine.sql": "select 1 as x",
        "dbt_packages/helpers/models/fine.sql": "select 2 as x",
    })
    report = import_dbt(root, tmp_path / "out")
    by = {(m.name, m.file): m for m in report.models}
    assert "not a plain identifier" in by[("my-model", "models/my-model.sql")].notes[0]
    dup = by[("fine", "dbt_packages/helpers/models/fine.sql")]
    assert dup.status == "refused" and "also named `fine`" in dup.notes[0]
    assert by[("fine", "models/fine.sql")].status == "imported"
    from rocky_engine.context import Context

    assert Context.load(tmp_path / "out").compile().ok
