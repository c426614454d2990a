"""`rocky intent confirm`: the SQL fingerprint lands in the sidecar, comments kept."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from rocky_engine.project import load_project


def test_confirm_stores_the_sql_sha256(shop: Path, run_cli) -> None:
    sidecar = shop / "models" / "customers.toml"
    sidecar.write_text("# the customer mart\n" + sidecar.read_text())
    r = run_cli("intent", "confirm", "customers", "--project", str(shop), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    digest = hashlib.sha256((shop / "models" / "customers.sql").read_bytes()).hexdigest()
    assert doc == {"model": "customers", "sidecar": "models/customers.toml",
                   "confirmed_sql": digest, "previous": None, "changed": True}
    text = sidecar.read_text()
    assert text.startswith("# the customer mart\n")
    assert tomllib.loads(text)["intent"]["confirmed_sql"] == digest
    assert load_project(shop).models["customers"].sidecar.intent.confirmed_sql == digest
    r = run_cli("intent", "confirm", "customers", "--project", str(shop))
    assert r.exit_code == 0 and "already confirmed" in r.stdout


def test_confirm_after_an_edit_updates_the_fingerprint(shop: Path, run_cli) -> None:
    run_cli("intent", "confirm", "stg_orders", "--project", str(shop))
    sql = shop / "models" / "stg_orders.sql"
    sql.write_text(sql.read_text() + "WHERE amount IS NOT NULL\n")
    r = run_cli("intent", "confirm", "stg_orders", "--project", str(shop), "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["changed"] and doc["previous"] and doc["previous"] != doc["confirmed_sql"]


def test_short_form_intent_becomes_a_table(shop: Path, run_cli) -> None:
    (shop / "models" / "bare.sql").write_text("SELECT 1 AS x\n")
    (shop / "models" / "bare.toml").write_text('# short form\nintent = "A constant."\n')
    r = run_cli("intent", "confirm", "bare", "--project", str(shop))
    assert r.exit_code == 0, r.output
    intent = load_project(shop).models["bare"].sidecar.intent
    assert intent.purpose == "A constant." and intent.confirmed_sql
    assert (shop / "models" / "bare.toml").read_text().startswith("# short form\n")


def test_confirm_without_intent_or_model_is_a_usage_error(shop: Path, run_cli) -> None:
    (shop / "models" / "bare.sql").write_text("SELECT 1 AS x\n")
    r = run_cli("intent", "confirm", "bare", "--project", str(shop))
    assert r.exit_code == 2 and "has no [intent] to confirm" in r.stderr
    assert not (shop / "models" / "bare.toml").exists()
    r = run_cli("intent", "confirm", "nope", "--project", str(shop))
    assert r.exit_code == 2 and "no model named `nope`" in r.stderr


def test_compile_warns_until_the_intent_is_confirmed_again(shop: Path, run_cli) -> None:
    run_cli("intent", "confirm", "stg_orders", "--project", str(shop))
    r = run_cli("compile", "--project", str(shop), "--format", "json")
    assert "W131" not in {d["code"] for d in json.loads(r.stdout)["diagnostics"]}
    sql = shop / "models" / "stg_orders.sql"
    sql.write_text(sql.read_text() + "WHERE amount IS NOT NULL\n")
    r = run_cli("compile", "--project", str(shop), "--format", "json")
    stale = [d for d in json.loads(r.stdout)["diagnostics"] if d["code"] == "W131"]
    assert [d["file"] for d in stale] == ["models/stg_orders.toml"]
    run_cli("intent", "confirm", "stg_orders", "--project", str(shop))
    r = run_cli("compile", "--project", str(shop), "--format", "json")
    assert "W131" not in {d["code"] for d in json.loads(r.stdout)["diagnostics"]}
