"""Diffs in terms of clicks: links decoded on both sides, aligned, and told apart by what a
person clicking would see (added, removed, retargeted, status changed) or not (re-wrapped)."""
