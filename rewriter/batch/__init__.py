"""The edges: sources, atomic writes, workers, cache, progress, reports and their formats."""
