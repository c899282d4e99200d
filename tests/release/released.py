"""What "the release went through" means in these tests: every step done or skipped."""

from __future__ import annotations


def unfinished(statuses: dict) -> list[str]:
    """Steps that are neither done nor skipped (StepRow objects or plain status strings)."""
    return [sid for sid, row in statuses.items() if getattr(row, "status", row) not in ("done", "skipped")]
