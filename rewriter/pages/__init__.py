"""Self-contained HTML pages: the links report and the diff report (no network, no assets)."""
