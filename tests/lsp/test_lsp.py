"""``rocky lsp`` through a real LSP client over stdio, on copies of the example project.

Every answer is checked against what the CLI's own passes say (compile diagnostics,
column types, lineage), so the editor can never disagree with ``rocky compile``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types as t

from rocky_engine.context import Context
from rocky_engine.lsp.client import LspClient
from rocky_engine.scaffold import init_project

CUSTOMERS = "models/customers.sql"
STG_ORDERS = "models/stg_orders.sql"
ORDER_PAYMENTS = "models/order_payments.sql"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    return root


@pytest.fixture
def client(shop: Path):
    with LspClient(shop) as c:
        yield c


def _line_of(root: Path, rel: str, needle: str) -> tuple[int, int]:
    for i, line in enumerate((root / rel).read_text(encoding="utf-8").splitlines()):
        if needle in line:
            return i, line.index(needle)
    raise AssertionError(f"{needle!r} not in {rel}")


def test_start_publishes_compile_diagnostics_and_capabilities(shop: Path) -> None:
    # A project with one error and one warning from the start.
    (shop / "models" / "bad.sql").write_text("SELECT amout FROM stg_orders\n", encoding="utf-8")
    expected = Context.load(shop).compile(use_cache=False)
    with LspClient(shop) as c:
        caps = c.result.capabilities
        assert caps.hover_provider and caps.definition_provider and caps.references_provider
        assert caps.completion_provider is not None and caps.code_action_provider
        c.wait(lambda: bool(c.diags("models/bad.sql")), "diagnostics of bad.sql")
        got = c.diags("models/bad.sql")
        want = [d for d in expected.diagnostics if d.file == "models/bad.sql"]
        assert [(str(d.code), d.range.start.line + 1, d.range.start.character + 1)
                for d in got] == [(d.code, d.line, d.col) for d in want]
        assert "did you mean" in got[0].message
        assert c.codes(CUSTOMERS) == []


def test_unsaved_edit_diagnostics_as_you_type_and_back(client: LspClient, shop: Path) -> None:
    text = (shop / STG_ORDERS).read_text(encoding="utf-8")
    client.open(STG_ORDERS)
    broken = text.replace("customer_id,", "customer_idd,")
    before = client.publishes(STG_ORDERS)
    client.change(STG_ORDERS, broken)
    client.wait(lambda: client.publishes(STG_ORDERS) > before, "diagnostics after the edit")
    assert client.codes(STG_ORDERS) == ["R104"]
    # The file on disk is untouched: the edit lives in the buffer only.
    assert (shop / STG_ORDERS).read_text(encoding="utf-8") == text
    # Dependants cannot be checked while it is broken: the same I140 as `rocky compile`.
    client.wait(lambda: "I140" in client.codes(ORDER_PAYMENTS), "I140 on a dependant")
    client.change(STG_ORDERS, text)
    client.wait(lambda: client.codes(STG_ORDERS) == [] and client.codes(ORDER_PAYMENTS) == [],
                "diagnostics cleared")


def test_schema_change_updates_dependants(client: LspClient, shop: Path) -> None:
    """Dropping a column upstream breaks the model two levels down that reads it."""
    text = (shop / STG_ORDERS).read_text(encoding="utf-8")
    client.open(STG_ORDERS)
    client.change(STG_ORDERS, text.replace("    order_date,\n", ""))
    client.wait(lambda: "R104" in client.codes(ORDER_PAYMENTS), "R104 in order_payments")
    # The same project on disk, compiled by the CLI's passes, agrees.
    (shop / STG_ORDERS).write_text(text.replace("    order_date,\n", ""), encoding="utf-8")
    expected = Context.load(shop).compile(use_cache=False)
    want = sorted(d.code for d in expected.diagnostics if d.file == ORDER_PAYMENTS)
    assert client.codes(ORDER_PAYMENTS) == want


def test_hover_column_model_and_source(client: LspClient, shop: Path) -> None:
    client.open(CUSTOMERS)
    line, col = _line_of(shop, CUSTOMERS, "c.customer_id,")
    text = client.hover(CUSTOMERS, line, col + 2)
    assert text is not None
    assert "**customer_id** `INTEGER` · not null" in text
    assert "`stg_customers.customer_id`" in text
    assert "customer key" in text  # the column's intent from stg_customers.toml
    assert "- `raw.customers.id` (copy)" in text
    # An output column of this model: its own type and where it comes from.
    line, col = _line_of(shop, CUSTOMERS, "0) AS lifetime_revenue,")
    text = client.hover(CUSTOMERS, line, col + 6)
    assert text is not None and "`DECIMAL(38,2)`" in text
    assert "- `raw.orders.amount` (aggregate)" in text
    # An alias inside a CTE: its type and the expression.
    line, col = _line_of(shop, CUSTOMERS, "SUM(amount) AS lifetime_revenue,")
    text = client.hover(CUSTOMERS, line, col + 16)
    assert text is not None and "`DECIMAL(38,2)`" in text and "SUM(" in text
    # A model reference: intent purpose, grain and columns.
    line, col = _line_of(shop, CUSTOMERS, "stg_customers AS c")
    text = client.hover(CUSTOMERS, line, col + 1)
    assert text is not None and "purpose:" in text and "grain: customer_id" in text
    assert "| country_code | `VARCHAR` |" in text
    # A source reference.
    client.open(STG_ORDERS)
    line, col = _line_of(shop, STG_ORDERS, "raw.orders")
    text = client.hover(STG_ORDERS, line, col + 5)
    assert text is not None and "**raw.orders** · source table" in text
    # In a JOIN condition, through two CTEs, and in a WHERE clause.
    line, col = _line_of(shop, CUSTOMERS, "= p.customer_id")
    text = client.hover(CUSTOMERS, line, col + 4)
    assert text is not None and "`order_payments.customer_id`" in text
    line, col = _line_of(shop, CUSTOMERS, "WHERE status")
    text = client.hover(CUSTOMERS, line, col + 7)
    assert text is not None and "**status** `VARCHAR`" in text
    # Whitespace: nothing.
    assert client.hover(CUSTOMERS, 0, 0) is None


def test_hover_follows_unsaved_edits(client: LspClient, shop: Path) -> None:
    text = (shop / STG_ORDERS).read_text(encoding="utf-8")
    client.open(STG_ORDERS)
    client.change(STG_ORDERS, text.replace("    amount\n", "    CAST(amount AS DOUBLE) AS amount\n"))
    client.open(ORDER_PAYMENTS)
    line, col = _line_of(shop, ORDER_PAYMENTS, "o.amount")
    client.poll(lambda: "DOUBLE" in (client.hover(ORDER_PAYMENTS, line, col + 3) or ""),
                "the new type in a dependant's hover")
    hover_text = client.hover(ORDER_PAYMENTS, line, col + 3) or ""
    assert "- `raw.orders.amount` (cast)" in hover_text


def test_definition(client: LspClient, shop: Path) -> None:
    client.open(CUSTOMERS)
    line, col = _line_of(shop, CUSTOMERS, "stg_customers AS c")
    loc = client.definition(CUSTOMERS, line, col + 1)
    assert loc.uri == client.uri("models/stg_customers.sql")
    # A column: the expression that defines it upstream.
    line, col = _line_of(shop, CUSTOMERS, "c.customer_name")
    loc = client.definition(CUSTOMERS, line, col + 3)
    assert loc.uri == client.uri("models/stg_customers.sql")
    upstream = (shop / "models/stg_customers.sql").read_text(encoding="utf-8").splitlines()
    assert "AS customer_name" in upstream[loc.range.start.line]
    # A source reference: its TOML entry; a source column: its line there.
    client.open(STG_ORDERS)
    line, col = _line_of(shop, STG_ORDERS, "raw.orders")
    loc = client.definition(STG_ORDERS, line, col + 5)
    toml = (shop / "sources/raw.toml").read_text(encoding="utf-8").splitlines()
    assert loc.uri == client.uri("sources/raw.toml")
    assert "tables.orders" in toml[loc.range.start.line]
    line, col = _line_of(shop, STG_ORDERS, "customer_id,")
    loc = client.definition(STG_ORDERS, line, col + 1)
    assert toml[loc.range.start.line].strip().startswith("customer_id")


def test_references_are_the_downstream_lineage(client: LspClient, shop: Path) -> None:
    client.open(STG_ORDERS)
    line, col = _line_of(shop, STG_ORDERS, "    amount")
    got = client.references(STG_ORDERS, line, col + 5)
    expected = Context.load(shop).lineage("raw.orders.amount", direction="downstream")
    want = {n for n in expected.nodes if n != "raw.orders.amount"}
    # One location per downstream column: the projection that defines it (its output name
    # is the last word of the range).
    found = set()
    for loc in got:
        rel = Path(loc.uri.removeprefix("file://")).relative_to(shop).as_posix()
        model = rel.removeprefix("models/").removesuffix(".sql")
        line_text = (shop / rel).read_text(encoding="utf-8").splitlines()[loc.range.start.line]
        written = line_text[loc.range.start.character:loc.range.end.character]
        found.add(model + "." + re.findall(r"\w+", written)[-1])
    assert len(got) == len(found)
    assert found == want


def test_completion(client: LspClient, shop: Path) -> None:
    text = (shop / CUSTOMERS).read_text(encoding="utf-8")
    client.open(CUSTOMERS)
    line, col = _line_of(shop, CUSTOMERS, "c.customer_name")
    items = client.completion(CUSTOMERS, line, col + 2)  # after "c."
    labels = {i.label: i.detail for i in items}
    assert labels.keys() == {"customer_id", "customer_name", "email", "country_code",
                             "signup_date"}
    assert labels["signup_date"].startswith("DATE")
    # After FROM: models and source tables.
    edited = text.replace("FROM stg_customers AS c", "FROM stg_c")
    client.change(CUSTOMERS, edited)
    line, col = _line_of_text(edited, "FROM stg_c")
    labels = {i.label for i in client.completion(CUSTOMERS, line, col + len("FROM "))}
    assert {"stg_customers", "stg_orders", "raw.orders"} <= labels
    # The word being typed filters them.
    labels = {i.label for i in client.completion(CUSTOMERS, line, col + len("FROM stg_c"))}
    assert labels == {"stg_customers"}
    # After a source schema: its tables.
    client.open(STG_ORDERS)
    line, col = _line_of(shop, STG_ORDERS, "raw.orders")
    labels = {i.label for i in client.completion(STG_ORDERS, line, col + 4)}
    assert labels == {"customers", "orders", "payments"}


def _line_of_text(text: str, needle: str) -> tuple[int, int]:
    for i, line in enumerate(text.splitlines()):
        if needle in line:
            return i, line.index(needle)
    raise AssertionError(needle)


def test_code_actions_did_you_mean_and_cast(client: LspClient, shop: Path) -> None:
    text = (shop / STG_ORDERS).read_text(encoding="utf-8")
    client.open(STG_ORDERS)
    client.change(STG_ORDERS, text.replace("customer_id,", "customer_idd,"))
    client.wait(lambda: client.codes(STG_ORDERS) == ["R104"], "R104")
    actions = client.code_actions(STG_ORDERS, client.diags(STG_ORDERS))
    assert [a.title for a in actions] == ["Replace `customer_idd` with `customer_id`"]
    edit = actions[0].edit.changes[client.uri(STG_ORDERS)][0]
    assert edit.new_text == "customer_id"
    # A contract mismatch: the hint names the CAST.
    client.change(STG_ORDERS, text)
    sidecar = "models/stg_orders.toml"
    side_text = (shop / sidecar).read_text(encoding="utf-8")
    client.open(sidecar)
    client.change(sidecar, side_text.replace('type = "DECIMAL(10,2)"', 'type = "DOUBLE"'))
    client.wait(lambda: "R121" in client.codes(STG_ORDERS), "R121 from the new contract")
    r121 = [d for d in client.diags(STG_ORDERS) if d.code == "R121"]
    actions = client.code_actions(STG_ORDERS, r121)
    assert [a.title for a in actions] == ["CAST to DOUBLE"]
    assert actions[0].edit.changes[client.uri(STG_ORDERS)][0].new_text == \
        "CAST(amount AS DOUBLE) AS amount"


def test_broken_sidecar_is_a_diagnostic_not_a_dead_server(shop: Path) -> None:
    sidecar = "models/stg_orders.toml"
    good = (shop / sidecar).read_text(encoding="utf-8")
    (shop / sidecar).write_text(good + "\nmaterialised = 'table'\n", encoding="utf-8")
    with LspClient(shop) as c:
        c.wait(lambda: c.codes(sidecar) == ["R003"], "R003 on the broken sidecar")
        assert "materialised" in c.diags(sidecar)[0].message
        assert c.diags(sidecar)[0].range.start.line == len(good.splitlines()) + 1
        # The rest of the project still answers.
        c.open(CUSTOMERS)
        line, col = _line_of(shop, CUSTOMERS, "c.customer_id,")
        assert "INTEGER" in (c.hover(CUSTOMERS, line, col + 2) or "")
        # Fixing it in the buffer clears the error.
        c.open(sidecar, (shop / sidecar).read_text(encoding="utf-8"))
        c.change(sidecar, good)
        c.wait(lambda: c.codes(sidecar) == [], "the sidecar error cleared")
        # An unsaved broken TOML buffer is located too.
        c.change(sidecar, good + "\n[columns.amount\n")
        c.wait(lambda: c.codes(sidecar) == ["R003"], "a TOML syntax error")


def test_file_created_and_deleted(client: LspClient, shop: Path) -> None:
    new = "models/big_orders.sql"
    client.open(CUSTOMERS)
    (shop / "models" / "reads_new.sql").write_text("SELECT order_id FROM big_orders\n",
                                                   encoding="utf-8")
    client.files_changed(("models/reads_new.sql", t.FileChangeType.Created))
    client.wait(lambda: client.codes("models/reads_new.sql") == ["R102"], "R102 unknown model")
    (shop / new).write_text("SELECT order_id, amount FROM stg_orders WHERE amount > 100\n",
                            encoding="utf-8")
    client.files_changed((new, t.FileChangeType.Created))
    client.wait(lambda: client.codes("models/reads_new.sql") == [], "the reference resolves")
    client.open("models/reads_new.sql")
    assert "big_orders" in (client.hover("models/reads_new.sql", 0, 23) or "")
    (shop / new).unlink()
    client.files_changed((new, t.FileChangeType.Deleted))
    client.wait(lambda: client.codes("models/reads_new.sql") == ["R102"], "R102 again")


def test_cycle(shop: Path) -> None:
    (shop / "models" / "a.sql").write_text("SELECT x FROM b\n", encoding="utf-8")
    (shop / "models" / "b.sql").write_text("SELECT 1 AS x FROM a\n", encoding="utf-8")
    with LspClient(shop) as c:
        c.wait(lambda: "R108" in c.codes("models/a.sql") and "R108" in c.codes("models/b.sql"),
               "R108 on both models")
        # Breaking the loop in a buffer clears it.
        c.open("models/b.sql")
        c.change("models/b.sql", "SELECT 1 AS x\n")
        c.wait(lambda: c.codes("models/a.sql") == [] and c.codes("models/b.sql") == [],
               "the cycle gone")
        # Making one again (an edit that changes the DAG) reports it again.
        c.change("models/b.sql", "SELECT 1 AS x FROM a\n")
        c.wait(lambda: "R108" in c.codes("models/b.sql"), "R108 again")


def test_missing_extra_is_one_line(tmp_path: Path) -> None:
    """Without pygls, `rocky lsp` says what to install (exit 2), no traceback."""
    import subprocess
    import sys

    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "pygls").mkdir()
    (blocker / "pygls" / "__init__.py").write_text("raise ImportError('blocked', name='pygls')\n")
    env = {"PYTHONPATH": str(blocker), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "rocky_engine", "lsp"], capture_output=True,
                         text=True, env=env, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert out.returncode == 2, out.stderr
    assert "pip install 'rocky-intent[lsp]'" in out.stderr
    assert "Traceback" not in out.stderr
