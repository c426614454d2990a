"""``rocky docs``: a static, self-contained site of the project.

    >>> from rocky_engine.docs_site import build_site     # doctest: +SKIP
    >>> build_site(ctx, Path("target/docs")).index          # doctest: +SKIP

A catalog of models and sources, a page per model and source, an interactive column
lineage view and the blast radius of the last ``rocky drift``. Every script and style ships
inside the package (``static/``): the site needs no network.
"""

from __future__ import annotations

from rocky_engine.docs_site.build import SiteResult, build_site, write_site
from rocky_engine.docs_site.serve import serve_site

__all__ = ["SiteResult", "build_site", "serve_site", "write_site"]
