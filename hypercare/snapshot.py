"""One day's view of the source data, as the rules see it.

A `Snapshot` hands each entity to the areas as a typed polars frame, read once from
landing and shared by every area of the run; tests build one from frames directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from hypercare.contract import load_contract, polars_schema
from hypercare.db import copy_out_frame
from hypercare.ruleset import RuleSet
from hypercare.snapshot_cache import SnapshotCache

Reader = Callable[[str], pl.DataFrame]


class InputUnavailable(LookupError):
    """An area asked for an input that was not read completely that day: no data, no verdict."""

    def __init__(self, inputs: list[str], reason: str):
        self.inputs = list(inputs)
        super().__init__(reason)


def entity_schema(entity: str) -> dict[str, pl.DataType]:
    """The polars schema every reader of `entity` returns."""
    return polars_schema(load_contract()[entity])


def empty_frame(entity: str) -> pl.DataFrame:
    return pl.DataFrame(schema=entity_schema(entity))


def conform(entity: str, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with exactly the contract's columns and dtypes (missing columns as null)."""
    schema = entity_schema(entity)
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()]
    )


LOAD_RUN_SCHEMA: dict[str, pl.DataType] = {
    "entity": pl.String,
    "source_file": pl.String,
    "status": pl.String,
    "rows_read": pl.Int64,
    "rows_loaded": pl.Int64,
    "message": pl.String,
}


# What the cross-cutting areas read back from the audit store for day %(as_of)s.
STORE_VIEWS: dict[str, tuple[str, dict[str, pl.DataType]]] = {
    "findings": (
        # Each finding of the day with its episode's opening: the latest opening or reopening
        # up to the day, grouped once by a hash aggregate (one index probe per finding of a
        # 100k day took 3.3 s).
        """select o.rule_id, o.subject_key, o.onboarding_id, o.opportunity_id, o.account_id, o.segment,
                  o.strategic, o.high_value, o.severity, e.episode_opened_on
           from hypercare.finding_occurrences o
           left join (
               select finding_id, max(event_on) as episode_opened_on
               from hypercare.finding_events
               where event in ('opened', 'reopened') and event_on <= %(as_of)s
               group by finding_id
           ) e on e.finding_id = o.finding_id
           where o.as_of = %(as_of)s""",
        {
            "rule_id": pl.String,
            "subject_key": pl.String,
            **dict.fromkeys(["onboarding_id", "opportunity_id", "account_id", "segment"], pl.String),
            **dict.fromkeys(["strategic", "high_value"], pl.Boolean),
            "severity": pl.String,
            "episode_opened_on": pl.Date,
        },
    ),
    "trace": (
        # An event counts for its onboarding from the day the link was first seen. The trace
        # holds every journey event (4.6M at 100k customers): readers ask for the types they
        # need (`Snapshot.store(..., event_type=[...])`), and the server keeps only those.
        "select onboarding_id, event_type from hypercare.trace_events where linked_on <= %(as_of)s",
        {"onboarding_id": pl.String, "event_type": pl.String},
    ),
}


def read_store_view(conn, view: str, as_of: dt.date, only: dict[str, list] | None = None) -> pl.DataFrame:
    """One of STORE_VIEWS as the store holds it now for day `as_of`; `only` keeps the rows
    whose column (each key) holds one of the values given, filtered in the server."""
    query, schema = STORE_VIEWS[view]
    only = only or {}
    unknown = set(only) - set(schema)
    if unknown:
        raise ValueError(f"store view {view} has no column(s) {sorted(unknown)}")
    if only:
        query = f"select * from ({query}) v where " + " and ".join(f"{column} = any(%({column})s)" for column in only)
    return copy_out_frame(conn, query, schema, {"as_of": as_of, **only})


StoreReader = Callable[[str, dict[str, list]], pl.DataFrame]


def blocked_areas(conn, as_of: dt.date) -> list[tuple[str, str]]:
    """Areas that gave no verdict on `as_of`, with the reason recorded."""
    return conn.execute(
        "select area, reason from hypercare.evaluation_blocks where as_of = %s order by area", (as_of,)
    ).fetchall()


class Snapshot:
    """Entity frames of one snapshot date, how each entity file loaded, and (for the
    cross-cutting areas) what the audit store already holds for that date."""

    def __init__(
        self,
        as_of: dt.date,
        reader: Reader,
        load_runs: Callable[[], pl.DataFrame] | None = None,
        store_reader: StoreReader | None = None,
        unavailable: dict[str, str] | None = None,
        store_unavailable: dict[str, str] | None = None,
    ):
        """`unavailable` maps entities that were rejected or held to that status;
        `store_unavailable` maps areas that gave no verdict that day to why (the store
        views then lack their findings)."""
        self.as_of = as_of
        self.unavailable = dict(unavailable or {})
        self.store_unavailable = dict(store_unavailable or {})
        self._reader = reader
        self._load_runs = load_runs or (lambda: pl.DataFrame(schema=LOAD_RUN_SCHEMA))
        self._store_reader = store_reader or (lambda view, only: pl.DataFrame(schema=STORE_VIEWS[view][1]))
        self._frames: dict[str, pl.DataFrame] = {}

    @classmethod
    def from_db(
        cls,
        conn,
        as_of: dt.date,
        before_store_read: Callable[[], None] = lambda: None,
        cache: SnapshotCache | None = None,
    ) -> Snapshot:
        """The snapshot of `as_of` as `conn` reads it; `before_store_read` runs before each
        read of a store view (to let writes of the same day's earlier areas land first).
        Landed entities come from the load's local copy in `cache` (default: from the
        environment) when it has one that matches the store, else from landing."""
        from hypercare.loader import UNUSABLE_STATUSES, read_snapshot

        cache = cache or SnapshotCache.from_env()
        unusable = dict(
            conn.execute(
                "select entity, status from hypercare.load_runs where snapshot_date = %s and status = any(%s)",
                (as_of, list(UNUSABLE_STATUSES)),
            ).fetchall()
        )

        def read(entity: str) -> pl.DataFrame:
            # The load is looked up at the read itself: a reload that committed since the
            # snapshot was opened is read from landing or its own copy, never the old copy.
            current = conn.execute(
                "select load_id::text, rows_loaded from hypercare.load_runs "
                "where snapshot_date = %s and entity = %s and status = 'loaded'",
                (as_of, entity),
            ).fetchone()
            if current:
                copy = cache.read(current[0], entity, entity_schema(entity), current[1])
                if copy is not None:
                    return copy
            return read_snapshot(conn, entity, as_of)

        def load_runs() -> pl.DataFrame:
            rows = conn.execute(
                "select entity, source_file, status, rows_read, rows_loaded, message "
                "from hypercare.load_runs where snapshot_date = %s order by entity",
                (as_of,),
            ).fetchall()
            return pl.DataFrame(rows, schema=LOAD_RUN_SCHEMA, orient="row")

        def store_reader(view: str, only: dict[str, list]) -> pl.DataFrame:
            before_store_read()
            return read_store_view(conn, view, as_of, only)

        return cls(as_of, read, load_runs, store_reader, unavailable=unusable)

    @classmethod
    def from_frames(
        cls,
        as_of: dt.date,
        frames: dict[str, pl.DataFrame],
        load_runs: pl.DataFrame | None = None,
        store: dict[str, pl.DataFrame] | None = None,
    ) -> Snapshot:
        """Frames keyed by entity; entities not given are empty with the contract's schema."""
        store = store or {}
        return cls(
            as_of,
            lambda entity: conform(entity, frames[entity]) if entity in frames else empty_frame(entity),
            (lambda: load_runs) if load_runs is not None else None,
            lambda view, only: (
                store[view].cast(STORE_VIEWS[view][1]) if view in store else pl.DataFrame(schema=STORE_VIEWS[view][1])
            ),
        )

    def with_store(self, views: dict[str, pl.DataFrame]) -> Snapshot:
        """The same snapshot, with the given store views replaced (the breach forecast hands
        the backlog the findings the next business day would hold)."""
        return Snapshot(
            self.as_of,
            self.__getitem__,
            self._load_runs,
            lambda view, only: views[view] if view in views else self._store_reader(view, only),
            store_unavailable=self.store_unavailable,
        )

    @property
    def load_runs(self) -> pl.DataFrame:
        return self._load_runs()

    def store(self, view: str, **only: list) -> pl.DataFrame:
        """A view of the audit store as of this date (see STORE_VIEWS); read fresh each time.
        `only` keeps the rows whose column (each keyword) holds one of the values given.

        Raises InputUnavailable when an area gave no verdict that day: the view would be
        missing its findings or trace, and reading it as complete would resolve them.
        """
        if self.store_unavailable:
            areas = sorted(self.store_unavailable)
            raise InputUnavailable([f"area {a}" for a in areas], f"no verdict from {', '.join(areas)}")
        only = {column: list(values) for column, values in only.items()}
        rows = self._store_reader(view, only)
        return rows.filter(pl.col(column).is_in(values) for column, values in only.items()) if only else rows

    def __getitem__(self, entity: str) -> pl.DataFrame:
        if entity in self.unavailable:
            raise InputUnavailable([entity], f"{entity} {self.unavailable[entity]}")
        if entity not in self._frames:
            self._frames[entity] = self._reader(entity)
        return self._frames[entity]


def with_deal_status(deals: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    """Deals plus `excluded`, `eligible`, `eligible_since` and `high_value`.

    Eligible: closed_won, not excluded, contract signed or countersigned, and the
    prepayment received when the payment condition asks for one. Eligible since is the
    latest of the timestamps that made it so.
    """
    prepayment = pl.col("payment_condition") == "prepayment"
    signed = pl.col("contract_state").is_in(["signed", "countersigned"])
    excluded = pl.col("excluded_reason").is_not_null()
    eligible = (
        (pl.col("stage") == "closed_won")
        & ~excluded
        & signed
        & (~prepayment | pl.col("payment_received_at").is_not_null())
    )
    since = pl.max_horizontal(
        "closed_won_at",
        "contract_signed_at",
        pl.when(prepayment).then(pl.col("payment_received_at")),
    )
    return deals.with_columns(
        excluded.alias("excluded"),
        eligible.alias("eligible"),
        pl.when(eligible).then(since).alias("eligible_since"),
        (pl.col("strategic") | (pl.col("arr") >= ruleset.high_value_arr)).alias("high_value"),
    )


def onboarding_context(snapshot: Snapshot, ruleset: RuleSet) -> pl.DataFrame:
    """One row per onboarding of a non-cancelled project, with its deal's context.

    Adds the deal's segment, sales_team, strategic, high_value, eligible and
    eligible_since; `sla_segment` is the segment whose SLAs and required fields apply
    (the configured unknown segment when the deal is not in the snapshot); `open` is
    true while the project is active or paused; `eligible_clock` starts the clocks that
    run "after eligible" (the project's created_at when the deal is not eligible).
    """
    deals = with_deal_status(snapshot["deals"], ruleset).select(
        "opportunity_id",
        "segment",
        "sales_team",
        "strategic",
        "high_value",
        "eligible",
        "eligible_since",
        "sales_owner",
        "arr",
    )
    projects = (
        snapshot["onboarding_projects"]
        .filter(pl.col("status") != "cancelled")
        .sort("created_at", "project_id")
        .unique(subset=["onboarding_id"], keep="first", maintain_order=True)
    )
    return projects.join(deals, on="opportunity_id", how="left").with_columns(
        pl.col("segment").fill_null(pl.lit(ruleset.unknown_segment)).alias("sla_segment"),
        pl.col("strategic").fill_null(False),
        pl.col("high_value").fill_null(False),
        pl.col("eligible").fill_null(False),
        pl.col("status").is_in(["active", "paused"]).alias("open"),
        pl.coalesce("eligible_since", "created_at").alias("eligible_clock"),
    )


def required_fields(ruleset: RuleSet) -> pl.DataFrame:
    """The configured required handoff fields as (sla_segment, field) rows."""
    return pl.DataFrame(
        [(segment, f) for segment, fields in ruleset.handoff_required_fields.items() for f in fields],
        schema={"sla_segment": pl.String, "field": pl.String},
        orient="row",
    )
