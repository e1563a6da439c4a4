"""Cross-cutting infrastructure: settings, database, errors, logging, metrics."""
