"""`rocky docs` without a browser: files, data = the CLI's JSON documents, errors, serving."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from rocky_engine.docs_site.build import ASSETS, STATIC
from rocky_engine.lastrun import DRIFT, TESTS, load_last
from tests.conftest import invoke_cli
from tests.site.conftest import apply_drift, cli_json


def data_of(path: Path) -> Any:
    """The value a data/*.js file hands to ROCKY.put."""
    text = path.read_text(encoding="utf-8")
    match = re.fullmatch(r'ROCKY\.put\("[^"]+",(.*)\);\n', text, re.DOTALL)
    assert match, text[:200]
    return json.loads(match.group(1))


def test_docs_writes_a_self_contained_site(seeded_shop: Path) -> None:
    result = invoke_cli("docs", "--project", str(seeded_shop), "--format", "json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    out = seeded_shop / "target" / "docs"
    assert info["index"] == str(out / "index.html") and info["models"] == 7
    assert info["drift"] is False and info["tests"] is False  # nothing recorded yet
    for rel in ("index.html", "assets/app.js", "assets/graph.js", "assets/draw.js",
                "assets/style.css", "data/catalog.js",
                "data/lineage.js", "data/drift.js", "data/models/0.js"):
        assert (out / rel).is_file(), rel
    assert data_of(out / "data" / "drift.js") is None


def test_site_data_is_the_compile_document(seeded_shop: Path) -> None:
    assert invoke_cli("docs", "--project", str(seeded_shop)).exit_code == 0
    compiled = cli_json(seeded_shop, "compile")
    out = seeded_shop / "target" / "docs" / "data"
    catalog = data_of(out / "catalog.js")
    assert [m["name"] for m in catalog["models"]] == [m["name"] for m in compiled["models"]]
    assert catalog["stats"]["models"] == compiled["stats"]["models"]
    shard = data_of(out / "models" / "0.js")
    for page, record in zip(shard, compiled["models"], strict=True):
        assert {k: page[k] for k in record} == record  # every field of the compile record
    customers = next(p for p in shard if p["name"] == "customers")
    assert customers["intent"]["grain"] == ["customer_id"]
    assert "FROM" in customers["sql"]
    assert {t["name"] for t in customers["tests"]} >= {"unique(customer_id)"}


def test_no_network_in_the_page(seeded_shop: Path) -> None:
    """Every script and style is local: nothing is fetched from the network."""
    files = sorted(STATIC.iterdir())
    assert {f.name for f in files} == {"index.html", *ASSETS}  # every asset is copied
    for path in files:
        name, text = path.name, path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
        assert "@import" not in text and "url(http" not in text, name
        assert "fetch(" not in text and "XMLHttpRequest" not in text, name


def test_drift_and_test_results_are_recorded(seeded_shop: Path) -> None:
    known_shop = seeded_shop
    assert invoke_cli("drift", "--project", str(known_shop)).exit_code == 0  # fingerprints
    assert invoke_cli("run", "--project", str(known_shop)).exit_code == 0
    assert invoke_cli("test", "--project", str(known_shop), "--select", "customers").exit_code == 0
    first = load_last(known_shop, TESTS)
    assert first and {t["model"] for t in first["tests"]} == {"customers"}
    assert invoke_cli("test", "--project", str(known_shop), "--select", "stg_orders").exit_code == 0
    merged = load_last(known_shop, TESTS)
    assert merged and {t["model"] for t in merged["tests"]} == {"customers", "stg_orders"}

    apply_drift(known_shop)
    printed = cli_json(known_shop, "drift")
    recorded = load_last(known_shop, DRIFT)
    assert recorded is not None and recorded.pop("recorded_at")
    assert recorded == printed  # the file is the `rocky drift --format json` document

    assert invoke_cli("docs", "--project", str(known_shop)).exit_code == 0
    drift = data_of(known_shop / "target" / "docs" / "data" / "drift.js")
    assert drift["impact"] == printed["impact"] and drift["changes"] == printed["changes"]
    catalog = data_of(known_shop / "target" / "docs" / "data" / "catalog.js")
    assert catalog["drift"]["broken"] == sum(i["status"] == "broken" for i in printed["impact"])


def test_bad_inputs_exit_2_with_one_line(seeded_shop: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me", encoding="utf-8")
    for args, needle in [
        (["--out", str(a_file)], "file.txt"),
        (["--out", str(busy)], "not empty"),
        (["--port", "9000"], "--port only applies to --serve"),
        (["--port", "99999"], "99999"),
    ]:
        result = invoke_cli("docs", "--project", str(seeded_shop), *args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output and "Traceback" not in result.output, result.output
    assert (busy / "mine.txt").read_text(encoding="utf-8") == "keep me"
    missing = invoke_cli("docs", "--project", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "rocky.toml" in missing.output


def test_rebuild_replaces_the_previous_site(seeded_shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert invoke_cli("docs", "--project", str(seeded_shop), "--out", str(out)).exit_code == 0
    stale = out / "data" / "models" / "99.js"
    stale.write_text("stale", encoding="utf-8")
    assert invoke_cli("docs", "--project", str(seeded_shop), "--out", str(out)).exit_code == 0
    assert not stale.exists() and (out / "index.html").is_file()


def test_serve_command_serves_the_site(seeded_shop: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rocky_engine", "docs", "--project", str(seeded_shop),
         "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "serving" in line or not line:
                break
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line
        with urllib.request.urlopen(match.group(0) + "index.html", timeout=10) as response:
            assert response.status == 200 and b"data/catalog.js" in response.read()
        with urllib.request.urlopen(match.group(0) + "data/catalog.js", timeout=10) as response:
            assert b'"customers"' in response.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
