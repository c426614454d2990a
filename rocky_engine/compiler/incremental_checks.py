"""Check an incremental model's ``[incremental]`` keys against its typed output columns.

A pure pass: the compiled columns and the sidecar in, diagnostics out (located in the
sidecar when there is one).

    >>> from rocky_engine.config import IncrementalConfig
    >>> cols = (CompiledColumn("id", "INTEGER", False), CompiledColumn("v", "DOUBLE", True))
    >>> cfg = IncrementalConfig(unique_key=["v"], watermark="ts")
    >>> [d.code for d in check_incremental(cols, cfg, None, Site("m", "models/m.sql", ""))]
    ['R602', 'W601', 'R601']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

from rocky_engine.compiler.ir import CompiledColumn
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.types import category, parse_type
from rocky_engine.config import IncrementalConfig, parse_lookback
from rocky_engine.errors import Diagnostic

_NOT_A_KEY = {
    exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE, exp.DataType.Type.JSON,
    exp.DataType.Type.ARRAY, exp.DataType.Type.LIST, exp.DataType.Type.STRUCT,
    exp.DataType.Type.MAP,
}


def check_incremental(columns: Sequence[CompiledColumn], config: IncrementalConfig,
                      grain: Sequence[str] | None, site: Site, *,
                      sidecar_path: str | None = None,
                      sidecar_text: str = "") -> list[Diagnostic]:
    """R600-R604 and W600-W601 for one incremental model (see ``rocky_engine.codes``)."""
    out: list[Diagnostic] = []
    by_name = {c.name.lower(): c for c in columns}
    where = _Sidecar(site, sidecar_path, sidecar_text)
    for key in config.unique_key:
        col = by_name.get(key.lower())
        if col is None:
            out.append(where.at("unique_key", "R600",
                                f'unique_key column "{key}" is not an output column of '
                                f"{site.model}", _did_you_mean(key, by_name)))
            continue
        dtype = parse_type(col.type) if col.known else None
        if dtype is not None and dtype.this in _NOT_A_KEY:
            out.append(where.at("unique_key", "R602",
                                f'unique_key column "{col.name}" is {col.type}, which does '
                                "not compare exactly for equality",
                                "CAST it to an integer or text key, or pick another key"))
        if col.nullable is True:
            out.append(where.at("unique_key", "W601",
                                f'unique_key column "{col.name}" can be NULL; rows with a '
                                "NULL key are inserted again on every run",
                                "filter the NULLs out or COALESCE the key"))
    if config.watermark is not None:
        col = by_name.get(config.watermark.lower())
        if col is None:
            out.append(where.at("watermark", "R601",
                                f'watermark "{config.watermark}" is not an output column of '
                                f"{site.model}", _did_you_mean(config.watermark, by_name)))
        elif col.known:
            kind = category(parse_type(col.type))
            if kind not in ("numeric", "temporal"):
                out.append(where.at("watermark", "R603",
                                    f'watermark "{col.name}" is {col.type}; it must be a '
                                    "number, a date or a timestamp",
                                    "CAST it, or pick an updated_at / loaded_at column"))
            elif config.lookback is not None:
                _, unit = parse_lookback(config.lookback)
                if kind == "numeric" and unit is not None:
                    out.append(where.at("lookback", "R604",
                                        f'lookback "{config.lookback}" is a duration but '
                                        f'watermark "{col.name}" is {col.type}',
                                        "write a plain number, e.g. lookback = \"1000\""))
                elif kind == "temporal" and unit is None:
                    out.append(where.at("lookback", "R604",
                                        f'lookback "{config.lookback}" has no unit but '
                                        f'watermark "{col.name}" is {col.type}',
                                        "write a duration, e.g. lookback = \"2 days\""))
    if config.strategy == "merge" and grain and config.unique_key and \
            {k.lower() for k in grain} != {k.lower() for k in config.unique_key}:
        out.append(where.at("unique_key", "W600",
                            f"merge key ({', '.join(config.unique_key)}) is not the declared "
                            f"grain ({', '.join(grain)})",
                            "make unique_key the grain, or correct [intent] grain"))
    return out


def _did_you_mean(name: str, by_name: dict[str, CompiledColumn]) -> str:
    import difflib

    close = difflib.get_close_matches(name.lower(), list(by_name), n=1)
    return f'did you mean "{by_name[close[0]].name}"?' if close else \
        "name an output column of the model's SELECT"


class _Sidecar:
    """Locates a diagnostic on the sidecar line that sets ``key`` (else on the model)."""

    def __init__(self, site: Site, path: str | None, text: str) -> None:
        self.site = Site(site.model, path, text) if path else site
        self.text = text if path else ""

    def at(self, key: str, code: str, message: str, hint: str) -> Diagnostic:
        line = 0
        pat = re.compile(rf"^\s*(incremental\.)?{re.escape(key)}\s*=")
        for i, text in enumerate(self.text.splitlines(), 1):
            if pat.search(text):
                line = i
                break
        if not line:
            return self.site.at(code, message, hint=hint)
        text = self.site.text.line_text(line)
        col = len(text) - len(text.lstrip()) + 1
        return self.site.at(code, message, line=line, col=col, width=len(text.strip()),
                            hint=hint)
