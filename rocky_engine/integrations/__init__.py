"""Bridges from rocky to other tools, each an optional extra (``pip install 'rocky-intent[x]'``).

Nothing here is imported by the engine itself; each subpackage imports its tool.
"""
