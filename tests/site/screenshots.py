"""Take the screenshots of docs/site.md from the example shop, drifted.

    .venv/bin/python -m tests.site.screenshots docs/img

Runs the quickstart's story in a temporary folder (seed, run, test, drift after an upstream
change, docs) and photographs each view in headless Chromium.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from rocky_engine.context import Context
from rocky_engine.scaffold import init_project
from tests.conftest import invoke_cli
from tests.site.browser import PageErrors, chromium
from tests.site.conftest import apply_drift

VIEWS = [
    ("site-catalog", "", "catalog", None),
    ("site-model", "#/model/customers", "model", None),
    ("site-lineage", "#/lineage/order_payments", "lineage", "order_payments.total_paid"),
    ("site-drift", "#/drift", "drift", None),
]


def main(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rocky-shots-"))
    try:
        root = tmp / "shop"
        init_project(root, example="shop")
        Context.load(root).seed()
        for args in (["run"], ["test"], ["drift"]):
            assert invoke_cli(*args, "--project", str(root)).exit_code == 0
        apply_drift(root)
        for args in (["drift"], ["docs"]):
            assert invoke_cli(*args, "--project", str(root)).exit_code == 0
        site = root / "target" / "docs" / "index.html"
        with chromium(viewport=(1180, 700)) as context:
            page = context.new_page()
            errors = PageErrors(page)
            for name, route, view, click in VIEWS:
                page.goto(f"file://{site}{route}")
                page.wait_for_selector(f"body[data-view={view}]")
                if click:
                    page.click(f'svg g.col[data-node="{click}"]')
                    page.wait_for_selector(f'body[data-lineage-ready="{click}"]')
                page.screenshot(path=str(dest / f"{name}.png"))
            assert not errors.messages, errors.messages
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
