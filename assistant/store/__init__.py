"""The embedded BioThings-compatible gene store: build (SQLite), query engine, HTTP service."""
