"""Text rendering of a compile result for people: diagnostics grouped by file, one summary.

    >>> from rocky_engine.dag import DAG
    >>> print(summary_line(CompileResult({}, [], [], DAG({}))))
    0 models, 0 columns (0 unknown types) · 0 errors · 0 warnings · 0.00s · 0 cached
"""

from __future__ import annotations

from collections.abc import Callable

from rocky_engine.compiler.ir import CompileResult
from rocky_engine.errors import Diagnostic, Severity

Style = Callable[[str, Severity], str]


def _plain(text: str, severity: Severity) -> str:
    return text


def render_text(result: CompileResult, style: Style = _plain, *,
                show_info: bool = True) -> str:
    """Every diagnostic under its file (with caret snippet and hint), then the summary."""
    diags = [d for d in result.diagnostics if show_info or d.severity is not Severity.INFO]
    lines = render_diagnostics(diags, style).splitlines()
    if lines:
        lines.append("")
    unknown = [(m.name, c) for m in (result.models[n] for n in result.order)
               for c in m.unknown_columns] if result.stats.unknown_types else []
    if unknown:
        shown = ", ".join(f"{m}.{c}" for m, c in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        lines.append(f"unknown types: {shown}{more}")
    lines.append(summary_line(result))
    return "\n".join(lines)


def render_diagnostics(diagnostics: list[Diagnostic], style: Style = _plain) -> str:
    """Diagnostics grouped by file, each with its caret snippet and hint."""
    lines: list[str] = []
    by_file: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_file.setdefault(d.file, []).append(d)
    for file, diags in by_file.items():
        lines.append(f"── {file or '(project)'}")
        for d in diags:
            where = d.location.render() if d.file else ""
            head = f"{d.severity.value}[{d.code}]"
            lines.append(f"{where}: {style(head, d.severity)}: {d.message}" if where
                         else f"{style(head, d.severity)}: {d.message}")
            if d.snippet:
                lines.extend("  " + s for s in d.snippet.splitlines())
            if d.hint:
                lines.append(f"  = hint: {d.hint}")
        lines.append("")
    return "\n".join(lines[:-1]) if lines else ""


def summary_line(result: CompileResult) -> str:
    s = result.stats
    n_err, n_warn = len(result.errors), len(result.warnings)
    return (f"{s.models} models, {s.columns} columns ({s.unknown_types} unknown types) · "
            f"{n_err} error{'s' if n_err != 1 else ''} · "
            f"{n_warn} warning{'s' if n_warn != 1 else ''} · {s.seconds:.2f}s · "
            f"{s.cache_hits} cached")
