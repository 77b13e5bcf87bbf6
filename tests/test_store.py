"""The audit store: run replacement, finding lifecycle, trace upserts and the audit log."""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypercare.findings import TRACE_SCHEMA, AreaResult, findings_from, metric_rows, trace_from
from hypercare.ruleset import load_ruleset
from hypercare.store import append_audit, register_ruleset, verify_audit, write_area_result
from hypercare.ui_queries import Cursor, FindingFilter, FindingsPage, findings_page
from tests.scenario import ts
from tests.summaries import assert_page_summaries_match

RULES = load_ruleset()
RULE = RULES.rule("trigger.unlinked_project")
D = [dt.date(2026, 11, 2) + dt.timedelta(days=i) for i in range(6)]


def result_with(subjects: list[str], created_at: str = "2026-11-02 09:00") -> AreaResult:
    frame = pl.DataFrame(
        {"project_id": subjects, "created_at": [ts(created_at)] * len(subjects)},
        schema={"project_id": pl.String, "created_at": pl.Datetime("us", "UTC")},
    )
    return AreaResult(
        findings=findings_from(RULE, frame, subject="project_id", since="created_at", evidence=["project_id"]),
        metrics=metric_rows([("unlinked", "all", "all", len(subjects))]),
        trace=trace_from(
            frame.with_columns(pl.col("project_id").alias("onboarding_id")),
            event_type="project_created",
            event_at="created_at",
            ref_id="project_id",
            attributes=["project_id"],
        ),
    )


def run(conn, day, subjects, created_at: str = "2026-11-02 09:00"):
    with conn.transaction():
        register_ruleset(conn, RULES)
        write_area_result(conn, day, "trigger", RULES, result_with(subjects, created_at))


def state(conn) -> dict[str, tuple]:
    rows = conn.execute(
        "select subject_key, status, first_seen_on, last_seen_on, resolved_on, episodes from hypercare.finding_state"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def events(conn) -> list[tuple]:
    return conn.execute(
        "select s.subject_key, e.event, e.event_on from hypercare.finding_events e "
        "join hypercare.finding_state s using (finding_id) order by 1, 3"
    ).fetchall()


def snapshot_of_store(conn) -> dict[str, list]:
    tables = ["finding_occurrences", "finding_state", "finding_events", "metric_values", "trace_events"]
    return {t: conn.execute(f"select * from hypercare.{t} as t order by t::text").fetchall() for t in tables} | {
        "runs": conn.execute(
            "select as_of, area, rule_version, finding_count from hypercare.evaluation_runs order by 1, 2"
        ).fetchall()
    }


HISTORY = {D[0]: ["A", "B"], D[1]: ["A", "B"], D[2]: ["A"], D[3]: ["A", "B"], D[4]: ["B"], D[5]: ["B", "C"]}


def test_lifecycle_open_resolve_reopen(conn):
    for day, subjects in HISTORY.items():
        run(conn, day, subjects)
    assert state(conn) == {
        "A": ("resolved", D[0], D[3], D[4], 1),
        "B": ("reopened", D[0], D[5], None, 2),
        "C": ("open", D[5], D[5], None, 1),
    }
    assert events(conn) == [
        ("A", "opened", D[0]),
        ("A", "resolved", D[4]),
        ("B", "opened", D[0]),
        ("B", "resolved", D[2]),
        ("B", "reopened", D[3]),
        ("C", "opened", D[5]),
    ]
    view = conn.execute("select count(*), count(distinct finding_id) from hypercare.findings").fetchone()
    assert view == (3, 3)


def test_rerun_is_idempotent(conn):
    for day, subjects in HISTORY.items():
        run(conn, day, subjects)
    before = snapshot_of_store(conn)
    run(conn, D[3], HISTORY[D[3]])
    run(conn, D[3], HISTORY[D[3]])
    assert snapshot_of_store(conn) == before


def test_backfill_in_any_order_gives_the_same_store(conn, db_url, pg_admin_url):
    for day, subjects in HISTORY.items():
        run(conn, day, subjects)
    in_order = {k: v for k, v in snapshot_of_store(conn).items() if k not in ("trace_events", "runs")}
    conn.execute(
        "delete from hypercare.finding_occurrences; delete from hypercare.finding_state; "
        "delete from hypercare.finding_events; delete from hypercare.metric_values; "
        "delete from hypercare.evaluation_runs"
    )
    conn.commit()
    for day in [D[5], D[1], D[3], D[0], D[4], D[2]]:
        run(conn, day, HISTORY[day])
    shuffled = {k: v for k, v in snapshot_of_store(conn).items() if k not in ("trace_events", "runs")}
    assert shuffled == in_order


def test_a_day_that_no_longer_finds_resolves_and_a_backfill_can_reopen(conn):
    run(conn, D[0], ["A"])
    run(conn, D[1], [])
    assert state(conn)["A"] == ("resolved", D[0], D[0], D[1], 1)
    run(conn, D[1], ["A"])  # backfill of D1 under a corrected rule finds it again
    assert state(conn)["A"] == ("open", D[0], D[1], None, 1)


def test_trace_events_are_upserted_once(conn):
    run(conn, D[0], ["A"])
    run(conn, D[1], ["A"])
    rows = conn.execute("select onboarding_id, event_type, first_observed_on from hypercare.trace_events").fetchall()
    assert rows == [("A", "project_created", D[0])]


def test_audit_log_is_chained_and_append_only(conn):
    with conn.transaction():
        append_audit(conn, "alice", "acknowledge", "finding:1", {"note": "on it"})
        append_audit(conn, "bob", "silence", "rule:trigger.manual_creation", {"hours": 24})
    ok, message = verify_audit(conn)
    assert ok and message.startswith("audit log intact: 2 entries")
    with pytest.raises(Exception, match="append-only"), conn.transaction():
        conn.execute("update hypercare.audit_log set actor = 'mallory'")
    # Tampering that bypasses the trigger is caught by the hash chain.
    with conn.transaction():
        conn.execute("alter table hypercare.audit_log disable trigger audit_log_append_only")
        conn.execute("update hypercare.audit_log set details = '{\"hours\": 240}' where actor = 'bob'")
        conn.execute("alter table hypercare.audit_log enable trigger audit_log_append_only")
    ok, message = verify_audit(conn)
    assert not ok and "seq 2" in message


def expected_lifecycle(history: dict[dt.date, list[str]]) -> tuple[dict[str, tuple], list[tuple]]:
    """The lifecycle the store must hold for the final per-day findings, derived in Python."""
    days = sorted(history)
    states, lifecycle_events = {}, []
    for subject in sorted({s for found in history.values() for s in found}):
        present = [day for day in days if subject in history[day]]
        was, episodes, resolved_on, last = None, 0, None, None
        for day in days[days.index(present[0]) :]:
            now = subject in history[day]
            if was is None or now != was:
                last = "opened" if was is None else ("reopened" if now else "resolved")
                lifecycle_events.append((subject, last, day))
                episodes += now
                resolved_on = day if not now else None
            was = now
        status = {"opened": "open", "reopened": "reopened", "resolved": "resolved"}[last]
        states[subject] = (status, present[0], present[-1], resolved_on, episodes)
    return states, sorted(lifecycle_events, key=lambda e: (e[0], e[2]))


def empty_findings(conn) -> None:
    """Back to a store without findings, for the next example of a property test."""
    conn.execute(
        "truncate hypercare.finding_occurrences, hypercare.finding_state, hypercare.finding_events, "
        "hypercare.metric_values, hypercare.evaluation_runs, hypercare.alert_outbox, "
        "hypercare.occurrence_counts, hypercare.finding_counts"
    )
    conn.commit()


# Each example runs up to a dozen real writes: a smaller CI budget than the profile's,
# the full one under `make fuzz` (HYPOTHESIS_PROFILE=long).
real_writes = settings(
    max_examples=15 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else settings.default.max_examples,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Each run stamps its findings with its own hour (their `since` and evidence), so the
# state must hold the content of each finding's latest day as that day's last run wrote it.
runs_in_any_order = st.lists(
    st.tuples(
        st.sampled_from(D),
        st.lists(st.sampled_from("ABCD"), unique=True, max_size=4),
        st.integers(min_value=0, max_value=23).map(lambda hour: f"2026-11-02 {hour:02d}:00"),
    ),
    min_size=1,
    max_size=12,
)


@real_writes
@given(runs=runs_in_any_order)
def test_lifecycle_after_runs_and_reruns_in_any_order_matches_the_final_history(conn, runs):
    empty_findings(conn)
    final, stamped = {}, {}
    for day, subjects, created_at in runs:
        run(conn, day, subjects, created_at)
        final[day] = subjects
        stamped[day] = ts(created_at)
    expected_state, expected_events = expected_lifecycle(final)
    assert state(conn) == expected_state
    assert events(conn) == expected_events
    content = conn.execute(
        "select subject_key, since, evidence ->> 'project_id' from hypercare.finding_state"
    ).fetchall()
    assert {subject: since for subject, since, _ in content} == {
        subject: stamped[last_seen] for subject, (_, _, last_seen, _, _) in expected_state.items()
    }
    assert all(subject == evidence for subject, _, evidence in content)
    assert_page_summaries_match(conn)


@real_writes
@given(runs=runs_in_any_order, page_size=st.integers(min_value=1, max_value=3))
def test_findings_pages_walked_either_way_hold_each_finding_once_in_page_order(conn, runs, page_size):
    """Not resolved first, then the latest resolved, ties by finding id, all descending; the
    cursors go through their text form as the page links carry them."""
    empty_findings(conn)
    for day, subjects, created_at in runs:
        run(conn, day, subjects, created_at)
    stored = conn.execute("select finding_id::text, resolved_on from hypercare.finding_state").fetchall()
    expected = [fid for fid, _ in sorted(stored, key=lambda row: (row[1] or dt.date.max, row[0]), reverse=True)]

    def page(**cursor) -> FindingsPage:
        found = findings_page(conn, FindingFilter(), page_size=page_size, **cursor)
        assert len(found.rows) <= page_size and (found.rows or not expected)
        return found

    forward = [page()]
    while forward[-1].following:
        forward.append(page(after=Cursor.parse(forward[-1].following.token())))
    backward = [forward[-1]]
    while backward[-1].previous:
        backward.append(page(before=Cursor.parse(backward[-1].previous.token())))

    def ids(pages: list[FindingsPage]) -> list[list[str]]:
        return [[str(row["finding_id"]) for row in found.rows] for found in pages]

    assert [fid for rows in ids(forward) for fid in rows] == expected
    assert ids(backward) == ids(forward)[::-1]
    assert forward[0].previous is None


def test_a_day_that_sees_its_findings_again_rewrites_their_state_without_touching_an_index(conn):
    """Every open finding's state row is rewritten each day; no index of the state may key on
    what such a rewrite changes (its last day seen, its evidence), so each stays heap-only."""
    subjects = [f"P{i}" for i in range(20)]
    run(conn, D[0], subjects, "2026-11-02 09:00")
    with conn.transaction():
        run(conn, D[1], subjects, "2026-11-02 10:00")
        updated, heap_only = conn.execute(
            "select n_tup_upd, n_tup_hot_upd from pg_stat_xact_user_tables "
            "where relid = 'hypercare.finding_state'::regclass"
        ).fetchone()
    assert (updated, heap_only) == (20, 20)
    assert {row[2] for row in state(conn).values()} == {D[1]}


def write_day(source, day: dt.date, linked: bool) -> None:
    """One eligible deal and its project, kicked off on 4 November; the project carries the
    deal's opportunity only when `linked`."""
    folder = source / day.isoformat()
    folder.mkdir(parents=True)
    pl.DataFrame(
        {
            "opportunity_id": ["OPP-1"],
            "account_id": ["ACC-1"],
            "segment": ["mid_market"],
            "strategic": ["false"],
            "arr": ["40000"],
            "sales_owner": ["ae@example.com"],
            "stage": ["closed_won"],
            "closed_won_at": ["2026-11-02T10:00:00Z"],
            "contract_state": ["signed"],
            "contract_signed_at": ["2026-11-02T09:00:00Z"],
            "payment_condition": ["none"],
        }
    ).write_csv(folder / "deals.csv")
    pl.DataFrame(
        {
            "project_id": ["PRJ-1"],
            "onboarding_id": ["ONB-1"],
            "opportunity_id": ["OPP-1" if linked else None],
            "account_id": ["ACC-1"],
            "created_at": ["2026-11-02T11:00:00Z"],
            "created_by": ["manual"],
            "status": ["active"],
            "handoff_submitted_at": ["2026-11-02T12:00:00Z"],
            "handoff_accepted_at": ["2026-11-02T13:00:00Z"],
            "onboarding_owner": ["onb@example.com"],
            "owner_assigned_at": ["2026-11-02T12:00:00Z"],
            "kickoff_scheduled_at": ["2026-11-03T10:00:00Z"],
            "kickoff_scheduled_for": ["2026-11-04T15:00:00Z"],
            "kickoff_completed_at": ["2026-11-04T16:00:00Z"],
        }
    ).write_csv(folder / "onboarding_projects.csv")


def test_a_later_link_leaves_a_past_day_as_it_was_evaluated(conn, tmp_path):
    """The project is linked to its deal on the 6th; the 5th, evaluated again after that,
    still reads the trace without the link, so its trace gap and its metrics stay."""
    from hypercare.evaluate import evaluate_day
    from hypercare.loader import load_snapshot
    from hypercare.snapshot import read_store_view

    day, later = dt.date(2026, 11, 5), dt.date(2026, 11, 6)
    write_day(tmp_path, day, linked=False)
    write_day(tmp_path, later, linked=True)

    def records(on: dt.date) -> dict[str, list]:
        return {
            "findings": conn.execute(
                "select area, rule_id, subject_key, severity, evidence from hypercare.finding_occurrences "
                "where as_of = %s order by 1, 2, 3",
                (on,),
            ).fetchall(),
            "metrics": conn.execute(
                "select area, metric, dimension, dimension_value, value from hypercare.metric_values "
                "where as_of = %s order by 1, 2, 3, 4",
                (on,),
            ).fetchall(),
            "trace": sorted(read_store_view(conn, "trace", on).rows()),
        }

    def gaps(on: dt.date) -> list[tuple]:
        return [(r[1], r[2]) for r in records(on)["findings"] if r[1] == "audit.trace_gap"]

    for d in (day, later):
        load_snapshot(conn, tmp_path, d, ruleset=RULES)
    evaluate_day(conn, day, RULES)
    first = records(day)
    assert gaps(day) == [("audit.trace_gap", "ONB-1")]
    assert ("ONB-1", "trigger_received") not in first["trace"]

    evaluate_day(conn, later, RULES)
    assert gaps(later) == []
    assert ("ONB-1", "trigger_received") in records(later)["trace"]

    evaluate_day(conn, day, RULES)
    assert records(day) == first

    # A reader asking for some event types gets exactly those rows of the view, filtered in the server.
    whole = read_store_view(conn, "trace", later)
    asked = ["trigger_received", "owner_assigned"]
    only = read_store_view(conn, "trace", later, {"event_type": asked})
    assert 0 < only.height < whole.height
    assert sorted(only.rows()) == sorted(whole.filter(pl.col("event_type").is_in(asked)).rows())
    with pytest.raises(ValueError, match="no column"):
        read_store_view(conn, "trace", later, {"event_kind": asked})
    # The link is dated by the first day that saw it.
    linked_on = "select first_observed_on, linked_on from hypercare.trace_events where event_type = 'trigger_received'"
    assert conn.execute(linked_on).fetchall() == [(day, later)]


# Journey events as an area restates them: a reference whose text needs quoting or
# escaping, one of two times, linked to its onboarding or not yet, on a day of four.
trace_runs = st.lists(
    st.tuples(
        st.sampled_from(D[:4]),
        st.lists(
            st.tuples(
                st.sampled_from(["P-1", "P,2", 'P"3', "P\t4", "P\\t4", "P\n5", "Pé6", ""]),
                st.sampled_from([ts("2026-11-01 09:00"), ts("2026-11-01 09:00:00.000001")]),
                st.booleans(),
            ),
            max_size=6,
        ),
    ),
    min_size=1,
    max_size=8,
)


@real_writes
@given(runs=trace_runs)
def test_trace_after_any_runs_holds_each_event_as_first_observed_and_first_linked(conn, runs):
    """The trace keeps, per event, the first day that saw it (with that day's attributes)
    and the first day that saw its link, however often and in whatever order days are
    restated; the known events an area drops before staging never change that."""
    conn.execute("truncate hypercare.trace_events, hypercare.evaluation_runs, hypercare.alert_outbox")
    conn.commit()
    expected: dict[tuple, list] = {}
    for day, restated in runs:
        frame = pl.DataFrame(
            [
                ("ONB-" + ref if linked else None, None, None, "project_created", at, ref, f'{{"day": "{day}"}}')
                for ref, at, linked in restated
            ],
            schema=TRACE_SCHEMA,
            orient="row",
        )
        with conn.transaction():
            register_ruleset(conn, RULES)
            write_area_result(conn, day, "trigger", RULES, AreaResult(trace=frame))
        for ref, at, linked in (
            frame.unique(["ref_id", "event_at"], keep="first").select("ref_id", "event_at", "onboarding_id").rows()
        ):
            seen = expected.setdefault((ref, at), [day, None])
            seen[0] = min(seen[0], day)
            if linked:
                seen[1] = min(seen[1] or day, day)
    stored = conn.execute(
        "select ref_id, event_at, first_observed_on, linked_on, onboarding_id, attributes->>'day' "
        "from hypercare.trace_events"
    ).fetchall()
    assert {(ref, at): (first, linked, onboarding, day) for ref, at, first, linked, onboarding, day in stored} == {
        key: (first, linked, "ONB-" + key[0] if linked else None, str(first))
        for key, (first, linked) in expected.items()
    }
