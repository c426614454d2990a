"""Importers that turn another tool's project into a rocky project (``rocky import ...``)."""
