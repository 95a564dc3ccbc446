"""Whether a click is served securely: preload lists, per-hop statuses, the pre-send notices."""
