"""Impact preview: what a changed rules configuration would do to a window of days, before it runs.

The preview opens one transaction, re-evaluates every loaded day of the window under the
proposed rule set with the normal code (`evaluate_day`: no-verdict handling, finding
lifecycle, alert outbox), compares findings, alerts and notifications with what the
store held before, and rolls everything back. Nothing it wrote survives: not findings,
not audit-log entries, not the proposed rule set's registration (identity sequences do
advance, as with any rolled-back insert). While it runs it holds the locks a backfill of
the same days would hold, so evaluations of those areas and audit-log writers (acks,
silences) wait for it.

Only areas the change can affect are re-evaluated: those whose rules' configuration
differs from the committed rule set(s) of the window, every area when a shared section
(calendar, high value, required handoff fields, unknown segment) differs, and the
backlog whenever any area is re-evaluated, since it ages the other areas' findings.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from hypercare.areas import AREAS
from hypercare.db import named_queries
from hypercare.evaluate import evaluate_day, snapshot_loaded
from hypercare.ruleset import SCOPES, RuleSet, scoped_content

RULE_COLUMNS = (
    "rule_id",
    "findings_before",
    "findings_after",
    "added",
    "removed",
    "unchanged",
    "newly_flagged",
    "newly_flagged_arr",
    "no_longer_flagged",
    "no_longer_flagged_arr",
    "alerts_before",
    "alerts_after",
)
CUSTOMER_COLUMNS = (
    "change",
    "rule_id",
    "customer",
    "opportunity_id",
    "account_name",
    "segment",
    "arr",
    "flagged_by_any_rule_before",
    "flagged_by_any_rule_after",
)


@dataclass
class ImpactReport:
    """What re-evaluating `date_from`..`date_to` under `proposed_version` would change."""

    date_from: dt.date
    date_to: dt.date
    proposed_version: str
    committed_versions: list[str]
    areas: list[str]
    days_evaluated: list[dt.date]
    days_not_loaded: list[dt.date]
    rules: list[dict] = field(default_factory=list)
    customers: list[dict] = field(default_factory=list)
    severity_changes: list[dict] = field(default_factory=list)
    notifications_queued: int = 0
    notifications_dropped: int = 0
    no_verdict_runs: int = 0
    seconds: float = 0.0

    @property
    def changed_rules(self) -> list[dict]:
        return [r for r in self.rules if r["added"] or r["removed"] or r["alerts_before"] != r["alerts_after"]]

    def customers_overall(self, before: bool, after: bool) -> list[dict]:
        """Customers flagged by some rule (before, after) as given, once each."""
        found = {
            c["customer"]: c
            for c in self.customers
            if c["flagged_by_any_rule_before"] is before and c["flagged_by_any_rule_after"] is after
        }
        return list(found.values())

    def as_json(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))

    def table(self) -> str:
        """The terminal summary: one line per rule of the re-evaluated areas, then totals."""
        lines = [
            f"Impact of rule set {self.proposed_version} on {self.date_from}..{self.date_to} "
            f"({len(self.days_evaluated)} day(s) evaluated), against committed "
            f"{', '.join(self.committed_versions) or 'nothing (no runs in the window)'}",
            f"re-evaluated areas: {', '.join(self.areas) or 'none (no change that evaluation reads)'}",
        ]
        if self.days_not_loaded:
            lines.append(f"not loaded, skipped: {', '.join(map(str, self.days_not_loaded))}")
        header = (
            f"{'rule':<36} {'before':>7} {'after':>7} {'added':>6} {'removed':>7} {'same':>7} "
            f"{'newly flagged (ARR)':>22} {'no longer (ARR)':>20} {'alerts':>11}"
        )
        lines += ["", header, "-" * len(header)]
        totals = dict.fromkeys(RULE_COLUMNS[1:], 0)
        severity_changed = {c["rule_id"] for c in self.severity_changes}
        shown = 0
        for row in self.rules:
            for key in totals:
                totals[key] += row[key]
            if row in self.changed_rules or row["rule_id"] in severity_changed:
                lines.append(_rule_line(row))
                shown += 1
        if shown < len(self.rules):
            lines.append(f"({len(self.rules) - shown} other rule(s) of these areas: no change)")
        lines += ["-" * len(header), _rule_line({"rule_id": "total", **totals})]
        lines.append("")
        if self.severity_changes:
            lines.append("severity changes (findings):")
            lines += [
                f"  {c['rule_id']}: {c['severity_before']} -> {c['severity_after']}: {c['findings']}"
                for c in self.severity_changes
            ]
        else:
            lines.append("severity changes: none")
        newly = self.customers_overall(before=False, after=True)
        cleared = self.customers_overall(before=True, after=False)
        lines.append(
            f"customers newly flagged by any rule: {len(newly)} ({_segments(newly)}), ARR at stake "
            f"{_money(newly)}; no longer flagged by any rule: {len(cleared)} ({_segments(cleared)}), "
            f"ARR {_money(cleared)}"
        )
        lines.append(
            f"a backfill would queue {self.notifications_queued} notification(s) and drop "
            f"{self.notifications_dropped} unsent one(s) (only the newest day of an area pages)"
        )
        if self.no_verdict_runs:
            lines.append(f"{self.no_verdict_runs} area run(s) would give no verdict: an input was rejected or held")
        lines.append(f"nothing was written (rolled back); {self.seconds:.1f} s")
        return "\n".join(lines)

    def write(self, out_dir: Path) -> list[Path]:
        """impact.json (everything), impact_rules.csv and impact_customers.csv under `out_dir`."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "impact.json", out_dir / "impact_rules.csv", out_dir / "impact_customers.csv"]
        paths[0].write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        for path, columns, rows in ((paths[1], RULE_COLUMNS, self.rules), (paths[2], CUSTOMER_COLUMNS, self.customers)):
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
        return paths


def _rule_line(row: dict) -> str:
    alerts = f"{row['alerts_before']}->{row['alerts_after']}" if row["alerts_before"] != row["alerts_after"] else "="
    newly = f"{row['newly_flagged']} ({row['newly_flagged_arr']:,.0f})"
    cleared = f"{row['no_longer_flagged']} ({row['no_longer_flagged_arr']:,.0f})"
    return (
        f"{row['rule_id']:<36} {row['findings_before']:>7} {row['findings_after']:>7} {row['added']:>6} "
        f"{row['removed']:>7} {row['unchanged']:>7} {newly:>22} {cleared:>20} {alerts:>11}"
    )


def _segments(customers: list[dict]) -> str:
    counts: dict[str, int] = {}
    for customer in customers:
        counts[customer["segment"] or "unknown"] = counts.get(customer["segment"] or "unknown", 0) + 1
    return ", ".join(f"{segment} {n}" for segment, n in sorted(counts.items())) or "none"


def _money(customers: list[dict]) -> str:
    return f"{sum(c['arr'] or 0 for c in customers):,.0f}"


def affected_areas(proposed: RuleSet, committed: list[dict]) -> list[str]:
    """Areas whose evaluation the proposed rule set can change, in evaluation order.

    `committed` holds the rules-scope content of every rule set the window was evaluated
    with; with none (a window never evaluated) every area is affected.
    """
    order = list(AREAS)
    if not committed:
        return order
    mine = json.loads(json.dumps(proposed.scoped_content("rules"), default=str))
    shared = [s for s in SCOPES["rules"] if s != "rules"]
    areas: set[str] = set()
    for content in committed:
        if any(content.get(section) != mine.get(section) for section in shared):
            return order
        theirs, ours = content.get("rules") or {}, mine.get("rules") or {}
        areas |= {
            rule_id.split(".", 1)[0] for rule_id in set(theirs) | set(ours) if theirs.get(rule_id) != ours.get(rule_id)
        }
    if areas:
        areas.add("backlog")
    return [area for area in order if area in areas]


def _committed(conn: psycopg.Connection, params: dict) -> tuple[list[str], list[dict]]:
    rows = conn.execute(named_queries("impact")["committed_versions"], params).fetchall()
    versions = [version for version, _, _ in rows]
    contents = [
        json.loads(json.dumps(scoped_content(content, "rules") if covers == "whole_file" else content))
        for _, content, covers in rows
    ]
    return versions, contents


def _capture(conn: psycopg.Connection, queries: dict[str, str], state: str, params: dict) -> None:
    for name in ("capture_occurrences", "capture_alerts", "capture_pending"):
        conn.execute(queries[name], params | {"state": state})


def preview_impact(
    conn: psycopg.Connection,
    proposed: RuleSet,
    date_from: dt.date,
    date_to: dt.date,
    actor: str = "impact-preview",
) -> ImpactReport:
    """Evaluate `date_from`..`date_to` under `proposed` and report the difference; writes nothing.

    `conn` must not be inside a transaction: the preview's own transaction is rolled back
    at the end, so it has to be the outermost one.
    """
    if date_to < date_from:
        raise ValueError("--to is before --from")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("the impact preview needs a connection outside any transaction (it rolls its own back)")
    started = time.monotonic()
    queries = named_queries("impact")
    params = {"date_from": date_from, "date_to": date_to}
    days = [date_from + dt.timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    with conn.transaction(force_rollback=True):
        versions, contents = _committed(conn, params)
        areas = affected_areas(proposed, contents)
        loaded = [day for day in days if snapshot_loaded(conn, day)]
        report = ImpactReport(
            date_from=date_from,
            date_to=date_to,
            proposed_version=proposed.version,
            committed_versions=versions,
            areas=areas,
            days_evaluated=loaded,
            days_not_loaded=[day for day in days if day not in loaded],
        )
        conn.execute(queries["create_state"])
        conn.execute(queries["deals_in_window"], params)
        conn.execute(queries["projects_in_window"], params)
        _capture(conn, queries, "before", params)
        if areas:
            for day in loaded:
                summaries = evaluate_day(conn, day, proposed, areas=areas, actor=actor)
                report.no_verdict_runs += sum(s.no_verdict is not None for s in summaries)
        _capture(conn, queries, "after", params)
        report.rules = [
            dict(zip(RULE_COLUMNS, row, strict=True))
            for row in conn.execute(queries["rule_counts"]).fetchall()
            if row[0].split(".", 1)[0] in areas
        ]
        report.customers = [
            dict(zip(CUSTOMER_COLUMNS, row, strict=True)) for row in conn.execute(queries["customer_changes"])
        ]
        report.severity_changes = [
            {"rule_id": rule_id, "severity_before": before, "severity_after": after, "findings": n}
            for rule_id, before, after, n in conn.execute(queries["severity_changes"])
        ]
        report.notifications_queued, report.notifications_dropped = conn.execute(
            queries["notification_changes"]
        ).fetchone()
    report.seconds = time.monotonic() - started
    return report


def preview_window(
    conn: psycopg.Connection,
    proposed: RuleSet,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    actor: str = "impact-preview",
) -> ImpactReport:
    """The preview over `date_from`..`date_to`, by default every evaluated day in the store."""
    if (date_from is None) != (date_to is None):
        raise ValueError("give both the first and the last day of the window, or neither (every evaluated day)")
    if date_from is None:
        date_from, date_to = conn.execute("select min(as_of), max(as_of) from hypercare.evaluation_runs").fetchone()
        if date_from is None:
            raise ValueError("no evaluated days in the store: give the first and last day of the window")
    return preview_impact(conn, proposed, date_from, date_to, actor=actor)


def preview_to_files(
    conn: psycopg.Connection,
    proposed: RuleSet,
    out_dir: Path,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    actor: str = "impact-preview",
) -> dict:
    """What the `hypercare_rule_impact` DAG runs: the preview, its table logged, its files written."""
    import logging

    report = preview_window(conn, proposed, date_from, date_to, actor=actor)
    logging.getLogger(__name__).info("%s", report.table())
    files = report.write(out_dir)
    return {
        "proposed_version": report.proposed_version,
        "committed_versions": report.committed_versions,
        "window": [report.date_from.isoformat(), report.date_to.isoformat()],
        "areas": report.areas,
        "changed_rules": [row["rule_id"] for row in report.changed_rules],
        "files": [str(path) for path in files],
    }
