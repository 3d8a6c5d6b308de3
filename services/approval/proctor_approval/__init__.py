"""The approval service: turns review verdicts into pending approvals and records decisions."""
