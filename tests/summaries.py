"""The Findings page's and the scorecard's summaries (migrations 0012, 0016) against what they summarise."""

from __future__ import annotations

import psycopg

OCCURRENCE_COUNTS = (
    "select as_of, area, rule_id, severity, reason_code, {} "
    "from hypercare.{} group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5"
)
FINDING_COUNTS = (
    "select area, rule_id, status, severity, segment, high_value, reason_code, owner_roles, {} "
    "from hypercare.{} group by 1, 2, 3, 4, 5, 6, 7, 8 order by 1, 2, 3, 4, 5, 6, 7, 8"
)


def assert_page_summaries_match(conn: psycopg.Connection) -> None:
    """Every per-run summary row equals a count over the occurrences and the finding state."""
    for query, table, summary in (
        (OCCURRENCE_COUNTS, "finding_occurrences", "occurrence_counts"),
        (FINDING_COUNTS, "finding_state", "finding_counts"),
    ):
        counted = conn.execute(query.format("count(*)::integer", table)).fetchall()
        kept = conn.execute(query.format("sum(findings)::integer", summary)).fetchall()
        assert kept == counted, f"hypercare.{summary} differs from the counts over hypercare.{table}"
