"""`rocky docs` in a real headless Chromium: every view against the CLI's JSON documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import invoke_cli
from tests.site.conftest import Tab, cli_json

# Columns whose lineage is clicked: a mart aggregate, a join key, a transform, a source.
COLUMNS = [
    ("customers", "lifetime_revenue"),
    ("order_payments", "customer_id"),
    ("stg_orders", "status"),
    ("raw.orders", "amount"),
]


def marked(page: Any, selector: str) -> set[str]:
    return set(page.eval_on_selector_all(
        selector, "els => els.map(e => e.getAttribute('data-node'))"))


def test_catalog_search_finds_a_model(tab: Tab) -> None:
    page = tab.open("", ready="catalog")
    rows = page.locator("#catalog tbody tr")
    assert rows.count() == 10  # 7 models + 3 source tables
    page.fill("#search", "order_pay")
    page.wait_for_function("document.querySelectorAll('#catalog tbody tr').length === 1")
    assert page.locator("#catalog tbody tr").first.get_attribute("data-model") == "order_payments"
    tab.shot("catalog-search")
    page.fill("#search", "raw.pay")
    page.wait_for_function(
        "document.querySelector('#catalog tbody tr') && "
        "document.querySelector('#catalog tbody tr').dataset.source === 'raw.payments'")
    page.fill("#search", "")
    page.wait_for_function("document.querySelectorAll('#catalog tbody tr').length === 10")
    tab.shot("catalog")
    page.keyboard.press("Tab")
    page.fill("#search", "customers")
    page.press("#search", "Enter")  # Enter opens the best match
    page.wait_for_selector("body[data-view=model]")
    assert page.locator("h1").first.inner_text().startswith("customers")
    assert not tab.errors.messages


@pytest.mark.parametrize("model", ["customers", "order_payments", "daily_revenue"])
def test_model_page_shows_the_compiled_types(tab: Tab, shop_site: Path, model: str) -> None:
    compiled = cli_json(shop_site, "compile")
    expected = next(m for m in compiled["models"] if m["name"] == model)
    page = tab.open(f"#/model/{model}", ready="model")
    rows = page.eval_on_selector_all(
        "#columns tbody tr",
        "rows => rows.map(r => [r.dataset.column, r.querySelector('.col-type').textContent])")
    assert rows == [[c["name"], c["type"]] for c in expected["columns"]]
    text = page.inner_text("#view")
    assert expected["path"] in text
    if model == "customers":
        assert "One row per customer with lifetime revenue" in page.inner_text("#purpose")
        assert "lifetime_revenue is never negative" in text  # a rule
        assert "sum of amount over the customer's completed orders" in text  # column intent
        tests = page.inner_text("#tests")
        assert "unique(customer_id)" in tests and "pass" in tests  # last `rocky test` result
        assert "order_payments" in text and "FROM" in page.inner_text("pre.sql")
        tab.shot("model")
    assert not tab.errors.messages


def test_source_page(tab: Tab) -> None:
    page = tab.open("#/source/raw.orders", ready="source")
    rows = page.eval_on_selector_all(
        "#columns tbody tr", "rows => rows.map(r => r.dataset.column)")
    assert rows[:2] == ["id", "customer_id"]
    assert "stg_orders" in page.inner_text("#view")  # read by
    tab.shot("source")
    assert not tab.errors.messages


@pytest.mark.parametrize("relation,column", COLUMNS)
def test_clicking_a_column_highlights_its_lineage(tab: Tab, shop_site: Path, relation: str,
                                                  column: str) -> None:
    node = f"{relation}.{column}"
    up = {n["id"] for n in cli_json(shop_site, "lineage", node)["nodes"]}
    down = {n["id"] for n in cli_json(shop_site, "lineage", node, "--downstream")["nodes"]}
    page = tab.open(f"#/lineage/{relation}", ready="lineage")
    page.wait_for_selector(f'body[data-lineage-ready="{relation}"]')
    assert not marked(page, ".col.hl-up, .col.hl-down")  # nothing selected yet
    page.click(f'svg g.col[data-node="{node}"]')
    page.wait_for_selector(f'body[data-lineage-ready="{node}"]')
    assert marked(page, "svg .col.hl-up") == up
    assert marked(page, "svg .col.hl-down") == down
    assert marked(page, "svg .col.hl-root") == {node}
    # The side panel lists the same nodes (the root aside).
    assert marked(page, "#hl-up li") == up - {node}
    assert marked(page, "#hl-down li") == down - {node}
    # Every edge of the CLI's answer is drawn, with its kind.
    edges = cli_json(shop_site, "lineage", node)["edges"]
    drawn = set(page.eval_on_selector_all("svg path.cedge", "ps => ps.map(p => p.dataset.kind)"))
    assert {e["kind"] for e in edges} <= drawn
    if relation == "customers":
        tab.shot("lineage")
    assert not tab.errors.messages


def test_the_page_walks_the_cli_graph(tab: Tab, shop_site: Path) -> None:
    """The in-page query (ROCKY.lineage) returns the CLI's nodes and edges for every column."""
    compiled = cli_json(shop_site, "compile")
    page = tab.open("", ready="catalog")
    for model in compiled["models"][:3]:
        for col in model["columns"][:3]:
            node = f"{model['name']}.{col['name']}".lower()
            for direction in ("upstream", "downstream"):
                flag = [] if direction == "upstream" else ["--downstream"]
                cli = cli_json(shop_site, "lineage", node, *flag)
                got = page.evaluate("([n, d]) => ROCKY.lineage(n, d)", [node, direction])
                assert got["nodes"] == [n["id"] for n in cli["nodes"]]
                assert sorted((e["from"], e["to"], e["kind"]) for e in got["edges"]) == sorted(
                    (e["from"], e["to"], e["kind"]) for e in cli["edges"])


def test_zoom_and_pan_move_the_graph(tab: Tab) -> None:
    page = tab.open("#/lineage/customers", ready="lineage")
    before = page.get_attribute("svg g.viewport", "transform")
    page.click("button[data-zoom=in]")
    zoomed = page.get_attribute("svg g.viewport", "transform")
    assert zoomed != before
    box = page.locator(".graph-wrap svg").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 130, box["y"] + 260, steps=4)
    page.mouse.up()
    assert page.get_attribute("svg g.viewport", "transform") != zoomed
    assert not tab.errors.messages


def test_drift_view_marks_exactly_the_cli_impact(tab: Tab, shop_site: Path) -> None:
    report = cli_json(shop_site, "drift")
    broken = {f"{i['model']}.{i['column']}".lower() for i in report["impact"]
              if i["status"] == "broken"}
    affected = {f"{i['model']}.{i['column']}".lower() for i in report["impact"]
                if i["status"] == "affected"}
    assert broken and affected  # the fixture drifts both ways
    page = tab.open("#/drift", ready="drift")
    assert marked(page, "svg .col.drift-broken") == broken
    assert marked(page, "svg .col.drift-affected") == affected
    assert marked(page, "svg .col.drift-changed") >= {"raw.customers.full_name",
                                                     "raw.payments.method"}
    kinds = page.eval_on_selector_all("#changes tbody tr", "rs => rs.map(r => r.dataset.kind)")
    assert sorted(kinds) == sorted(c["kind"] for c in report["changes"])
    impact_rows = set(page.eval_on_selector_all(
        "#impact tbody tr[data-impact]", "rs => rs.map(r => r.dataset.impact)"))
    assert impact_rows == broken | affected
    # The diagnostic of each broken model is shown.
    assert 'column "full_name" not found' in page.inner_text("#impact")
    tab.shot("drift")
    assert not tab.errors.messages


def test_drift_view_renders_unknown_kinds(tab: Tab, shop_site: Path) -> None:
    """A change kind the page does not know (e.g. drift in values) is listed with its fields."""
    data = tab.site / "data" / "drift.js"
    original = data.read_text(encoding="utf-8")
    report = json.loads((shop_site / "target" / "last_drift.json").read_text(encoding="utf-8"))
    report["changes"].append({
        "kind": "column_values_changed", "table": "raw.orders", "column": "amount",
        "change": "scale", "evidence": {"before": {"mean": 10.5}, "after": {"mean": 1050}}})
    payload = json.dumps(json.dumps(report))
    try:
        data.write_text(f'ROCKY.put("drift",JSON.parse({payload}));\n', encoding="utf-8")
        page = tab.open("#/drift", ready="drift")
        row = page.locator('#changes tr[data-kind="column_values_changed"]')
        assert row.count() == 1
        text = row.inner_text()
        assert "raw.orders.amount" in text and "scale" in text and "1050" in text
        assert marked(page, "svg .col.drift-changed") >= {"raw.orders.amount"}
    finally:
        data.write_text(original, encoding="utf-8")
    assert not tab.errors.messages


def test_served_over_http(tab: Tab) -> None:
    from rocky_engine.docs_site.serve import site_server

    with site_server(tab.site, port=0) as url:
        tab.page.goto(url)
        tab.page.wait_for_selector("body[data-view=catalog]")
        tab.page.goto(url + "#/model/stg_orders")
        tab.page.wait_for_selector("body[data-view=model]")
        assert "stg_orders" in tab.page.inner_text("h1")
    assert not tab.errors.messages


def test_a_project_with_compile_errors_still_gets_a_site(browser: Any, shop: Path) -> None:
    sql = shop / "models" / "stg_orders.sql"
    sql.write_text(sql.read_text(encoding="utf-8").replace("amount", "amout"), encoding="utf-8")
    result = invoke_cli("docs", "--project", str(shop))
    assert result.exit_code == 0, result.output
    compiled = cli_json(shop, "compile")
    assert compiled["ok"] is False
    t = Tab(browser, shop / "target" / "docs")
    try:
        page = t.open("", ready="catalog")
        statuses = page.eval_on_selector_all(
            "#catalog tbody tr[data-model]",
            "rs => rs.map(r => [r.dataset.model, r.innerText.includes('error')])")
        assert statuses == [[m["name"], m["status"] == "error"] for m in compiled["models"]]
        page = t.open("#/model/stg_orders", ready="model")
        assert 'error[R104]: column "amout" not found' in page.inner_text("#view")
        page = t.open("#/lineage/stg_orders", ready="lineage")
        assert "did not compile" in page.inner_text("#incomplete")
        assert not t.errors.messages, t.errors.messages
    finally:
        t.page.close()


def test_boxes_expand_and_context_grows(tab: Tab) -> None:
    page = tab.open("#/lineage/order_payments", ready="lineage")
    page.wait_for_selector('body[data-lineage-ready="order_payments"]')
    collapsed = page.locator("svg text[data-expand]").first
    relation = collapsed.get_attribute("data-expand")
    assert not marked(page, f'svg g.rel[data-rel="{relation}"] g.col')
    collapsed.click()
    page.wait_for_selector(f'svg g.rel[data-rel="{relation}"] g.col')
    before = page.locator("svg g.rel").count()
    page.click("button[data-depth=more]")
    page.wait_for_function(f"document.querySelectorAll('svg g.rel').length > {before}")
    page.click("svg g.rel[data-rel=\"customers\"] text.title")  # a title focuses its box
    page.wait_for_selector('.graph-wrap[data-focus="customers"]')
    assert not tab.errors.messages


HOSTILE = "<img src=x onerror=\\\"window.pwned=1\\\"><script>window.pwned=1</script>"


def test_project_text_is_shown_as_text_never_run(browser: Any, shop: Path) -> None:
    """Descriptions, intents and SQL comments are data: escaped, never executed."""
    for rel, old in [("sources/raw.toml", "One row per order."),
                     ("models/customers.toml", "One row per customer with lifetime revenue")]:
        path = shop / rel
        path.write_text(path.read_text(encoding="utf-8").replace(old, old + HOSTILE),
                        encoding="utf-8")
    sql = shop / "models" / "stg_orders.sql"
    sql.write_text("-- </pre><img src=x onerror=\"window.pwned=1\">\n"
                   + sql.read_text(encoding="utf-8"), encoding="utf-8")
    assert invoke_cli("docs", "--project", str(shop)).exit_code == 0
    t = Tab(browser, shop / "target" / "docs")
    try:
        for route, view in [("", "catalog"), ("#/source/raw.orders", "source"),
                            ("#/model/customers", "model"), ("#/model/stg_orders", "model")]:
            page = t.open(route, ready=view)
            assert page.evaluate("window.pwned") is None, route
            assert page.locator("#view img, #view script").count() == 0, route
        assert "<script>window.pwned=1</script>" in t.open("#/model/customers",
                                                           ready="model").inner_text("#purpose")
        assert not t.errors.messages, t.errors.messages
    finally:
        t.page.close()
