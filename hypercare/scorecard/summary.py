"""The top of the scorecard: what changed since the last sent scorecard and what to do, in a few lines."""

from __future__ import annotations

from hypercare.scorecard.formats import fmt


def _area_changes(data: dict) -> tuple[list[str], list[str]]:
    better, worse = [], []
    for h in data["health"]:
        if h["previous"] is None or h["status"] == "no verdict":
            continue
        delta = h["exceptions"] - h["previous"]
        if delta:
            text = f"{h['area']} {h['previous']} → {h['exceptions']}"
            (better if delta < 0 else worse).append((abs(delta), text))
    return [t for _, t in sorted(better, reverse=True)], [t for _, t in sorted(worse, reverse=True)]


def summary(data: dict) -> dict:
    """Three to five lines: changes, the verdict and what flips it, and the top fixes to do."""
    verdict = data["verdict"]
    currency = data["currency"]
    if data["previous_as_of"] is None:
        changed = "First scorecard of hypercare: nothing to compare with yet."
    else:
        better, worse = _area_changes(data)
        parts = []
        if better:
            parts.append("better: " + "; ".join(better[:3]))
        if worse:
            parts.append("worse: " + "; ".join(worse[:3]))
        changed = f"Since the scorecard of {data['previous_as_of']}: " + (
            ". ".join(parts) if parts else "no area changed its exception count"
        )
    due = data["next_review"]
    fixes = [
        {
            "rank": f["rank"],
            "text": f"{f['rule_name']} ({f['reason']})",
            "owner": ", ".join(f["owners"]) or "workflow owner",
            "due": due,
            "arr": fmt(f["arr_at_risk"], "money", currency=currency),
            "open": f["findings"],
        }
        for f in data["fixes"][:3]
    ]
    return {
        "changed": changed,
        "verdict": f"{verdict['message']}; {verdict['flip']}.",
        "fixes": fixes,
        "no_fixes": "No open exceptions: nothing to fix before the next review." if not fixes else None,
    }
