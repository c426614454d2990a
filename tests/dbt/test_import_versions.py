"""Model versions (schema.yml `versions:`) and an installed package's seeds, on both paths,
checked against real dbt.

dbt builds one relation per version (`people_v1`, `people_v2`); rocky names the models the
same, and `ref('people')` reads the latest version, `ref('people', v=1)` the one asked for.
`dbt seed` loads the seeds of installed packages too: they become sources like the
project's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rocky_engine.importers.dbt import import_dbt
from tests.dbt.conftest import dbt_ok

FILES = {
    "dbt_project.yml": 'name: vers\nversion: "1.0"\nprofile: vers\n'
                       'model-paths: ["models"]\nseed-paths: ["seeds"]\n',
    "profiles.yml": "vers:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                    "      path: dev.duckdb\n",
    "seeds/raw_people.csv": "id,name\n1,ada\n2,grace\n3,linus\n",
    "models/people_v1.sql": "select id, name from {{ ref('raw_people') }}\n",
    "models/people_v2.sql": "select id, upper(name) as name, id * 10 as score "
                            "from {{ ref('raw_people') }}\n",
    "models/latest_people.sql": "select name from {{ ref('people') }}\n",
    "models/old_people.sql": "select name from {{ ref('people', v=1) }}\n",
    "dbt_packages/geo/dbt_project.yml": 'name: geo\nversion: "1.0"\n'
                                        "seeds:\n  geo:\n    +column_types:\n"
                                        "      code: varchar\n",
    "dbt_packages/geo/seeds/geo_countries.csv": "code,country\n01,France\n02,Peru\n",
    "models/countries.sql": "select code, upper(country) as country "
                            "from {{ ref('geo_countries') }}\n",
    "models/schema.yml": "version: 2\nmodels:\n  - name: people\n"
                         "    description: one row per person\n    latest_version: 2\n"
                         "    versions:\n      - v: 1\n      - v: 2\n",
}


@pytest.fixture
def vers(tmp_path: Path) -> Path:
    root = tmp_path / "vers"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _check(report: object, out: Path) -> None:
    got = {m.name: (m.status, m.verify, m.notes) for m in report.models}  # type: ignore[attr-defined]
    assert set(got) == {"people_v1", "people_v2", "latest_people", "old_people",
                        "countries"}, got
    assert all(v[:2] == ("imported", "equal") for v in got.values()), got
    assert "version 2 of dbt model `people`: named `people_v2`" in got["people_v2"][2]
    assert "FROM people_v2" in (out / "models" / "latest_people.sql").read_text()
    assert "FROM people_v1" in (out / "models" / "old_people.sql").read_text()
    # The package's seed: a CSV of the rocky project, typed as the package declares it
    # (`code` text, so '01' keeps its zero: --verify compared the rows).
    assert (out / "seeds" / "main" / "geo_countries.csv").read_text().startswith("code,")


@pytest.mark.slow
def test_versions_on_the_jinja_path(vers: Path, tmp_path: Path, dbt_exe: Path) -> None:
    out = tmp_path / "out"
    _check(import_dbt(vers, out, jinja=True, verify=True, dbt_executable=str(dbt_exe)), out)
    assert 'purpose = "one row per person"' in (out / "models" / "people_v1.toml").read_text()


@pytest.mark.slow
def test_versions_on_the_manifest_path(vers: Path, tmp_path: Path, dbt_exe: Path) -> None:
    dbt_ok(["compile"], vers)
    out = tmp_path / "out"
    _check(import_dbt(vers, out, verify=True, dbt_executable=str(dbt_exe)), out)


def test_a_missing_version_is_refused_with_the_versions_there_are(vers: Path,
                                                                   tmp_path: Path) -> None:
    (vers / "models" / "bad.sql").write_text("select * from {{ ref('people', v=7) }}\n")
    report = import_dbt(vers, tmp_path / "out", jinja=True, dbt_executable="/nonexistent/dbt")
    (bad,) = [m for m in report.models if m.name == "bad"]
    assert bad.status == "refused" and "has no version 7 (versions 1, 2)" in bad.notes[0]
