"""The contract check: which source rows are good, which are quarantined, and why."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypercare.contract import (
    POLARS_TYPES,
    Column,
    ContractError,
    Entity,
    _parse_any_ts,
    _parse_ts,
    load_contract,
    pandera_schema,
    polars_schema,
    validate,
)

UTC = dt.UTC
CONTRACT = load_contract()
PATTERN_VALUES = {"country": "DE"}


def valid_value(column: Column) -> str:
    """A source cell that satisfies every rule of `column` on its own."""
    if column.name in PATTERN_VALUES:
        return PATTERN_VALUES[column.name]
    return {
        "str": f"{column.name}-1",
        "enum": column.values[0] if column.values else "",
        "int": "3",
        "decimal": "0.25",
        "bool": "true",
        "date": "2026-11-02",
        "ts": "2026-11-03T09:30:00+01:00",
        "list": "alpha;beta",
    }[column.type]


def typed_value(column: Column):
    """What `valid_value(column)` reads as."""
    return {
        "str": PATTERN_VALUES.get(column.name, f"{column.name}-1"),
        "enum": column.values[0] if column.values else None,
        "int": 3,
        "decimal": 0.25,
        "bool": True,
        "date": dt.date(2026, 11, 2),
        "ts": dt.datetime(2026, 11, 3, 8, 30, tzinfo=UTC),
        "list": ["alpha", "beta"],
    }[column.type]


def valid_row(entity: Entity, key_suffix: str = "1", **overrides: str | None) -> dict[str, str | None]:
    """A source row passing every check; string key columns end in `key_suffix`."""
    row = {c.name: valid_value(c) for c in entity.columns}
    for name in entity.key:
        if entity.column(name).type == "str":
            row[name] = f"{name}-{key_suffix}"
    row.update(overrides)
    return row


def typed_row(entity: Entity, key_suffix: str = "1") -> dict:
    """What `valid_row(entity, key_suffix)` reads as."""
    row = {c.name: typed_value(c) for c in entity.columns}
    for name in entity.key:
        if entity.column(name).type == "str":
            row[name] = f"{name}-{key_suffix}"
    return row


def write_csv(path: Path, rows: list[dict[str, str | None]]) -> Path:
    """Rows as an RFC 4180 CSV with a header; None becomes an empty cell."""
    header = list(dict.fromkeys(name for row in rows for name in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return path


def source_frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Rows the way a CSV reader hands them over: every column a string."""
    header = list(dict.fromkeys(name for row in rows for name in row))
    return pl.DataFrame([{n: row.get(n) for n in header} for row in rows], schema=dict.fromkeys(header, pl.String))


def violations(result) -> list[tuple]:
    return result.quarantine.select("row_number", "column_name", "value", "reason").rows()


def test_good_rows_come_back_typed_for_every_entity():
    for entity in CONTRACT:
        result = validate(entity, source_frame([valid_row(entity)]), f"{entity.name}.csv")
        assert result.quarantine.is_empty(), (entity.name, violations(result))
        assert result.good.columns == [*entity.column_names, "_source_row", "_extra"]
        assert result.good.schema == {**polars_schema(entity), "_source_row": pl.Int64, "_extra": pl.String}
        assert result.good.row(0, named=True) == {**typed_row(entity), "_source_row": 1, "_extra": None}


def test_each_kind_of_violation_is_quarantined_with_column_value_and_reason():
    deals = CONTRACT["deals"]
    rows = [
        valid_row(deals, "1"),
        valid_row(deals, "2", seats="abc"),
        valid_row(deals, "3", segment="huge"),
        valid_row(deals, "4", account_id=None),
        valid_row(deals, "5", stage="closed_won", closed_won_at=None),
        valid_row(deals, "6", seats="-1"),
        valid_row(deals, "7", closed_won_at="2026-11-03T16:00:00"),
        valid_row(deals, "8", strategic="True"),
        valid_row(deals, "dup"),
        valid_row(deals, "dup", arr="7"),
        valid_row(deals, "11", arr="1e3"),
    ]
    result = validate(deals, source_frame(rows), "2026-11-03/deals.csv")

    assert violations(result) == [
        (2, "seats", "abc", "not a valid int"),
        (3, "segment", "huge", "not one of: enterprise, mid_market, smb"),
        (4, "account_id", None, "null in required column"),
        (5, "closed_won_at", None, "required when stage in (closed_won)"),
        (6, "seats", "-1", "less than minimum 0"),
        (7, "closed_won_at", "2026-11-03T16:00:00", "timestamp without offset"),
        (8, "strategic", "True", "not a valid bool (expected true or false)"),
        (9, "opportunity_id", "opportunity_id-dup", "duplicate key (opportunity_id)"),
        (10, "opportunity_id", "opportunity_id-dup", "duplicate key (opportunity_id)"),
    ]
    assert result.good["_source_row"].to_list() == [1, 11]
    assert result.good["arr"].to_list() == [0.25, 1000.0]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (11, 2, 9)


def test_quarantine_record_is_the_raw_row_as_json():
    deals = CONTRACT["deals"]
    rows = [valid_row(deals, seats="many", notes="call back")]
    result = validate(deals, source_frame(rows), "deals.csv")
    assert result.quarantine.schema == {
        "row_number": pl.Int64,
        "line_number": pl.Int64,
        "column_name": pl.String,
        "value": pl.String,
        "reason": pl.String,
        "record": pl.String,
    }
    assert json.loads(result.quarantine["record"].item()) == rows[0]


def test_one_row_breaking_several_rules_gets_one_quarantine_row_per_rule():
    suggestions = CONTRACT["ai_suggestions"]
    row = valid_row(
        suggestions, confidence="1.5", evidence_count="-2", kind="poem", sent_at="2026-11-03T08:00:00+01:00"
    )
    result = validate(suggestions, source_frame([row]), "ai_suggestions.csv")
    assert violations(result) == [
        (1, "kind", "poem", "not one of: " + ", ".join(suggestions.column("kind").values)),
        (1, "confidence", "1.5", "more than maximum 1"),
        (1, "evidence_count", "-2", "less than minimum 0"),
        (1, "sent_at", "2026-11-03T08:00:00+01:00", "sent_at before created_at"),
    ]
    assert result.good.is_empty()


def test_order_checks_compare_instants_not_spellings():
    items = CONTRACT["provisioning_items"]
    rows = [
        valid_row(items, "1", created_at="2026-11-03T10:00:00+01:00", completed_at="2026-11-03T09:30:00Z"),
        valid_row(items, "2", created_at="2026-11-03T10:00:00+01:00", completed_at="2026-11-03T08:59:59Z"),
        valid_row(items, "3", created_at="2026-11-03T10:00:00Z", completed_at=None),
    ]
    result = validate(items, source_frame(rows), "provisioning_items.csv")
    assert violations(result) == [
        (2, "completed_at", "2026-11-03T08:59:59Z", "completed_at before created_at"),
    ]
    assert result.good["item_id"].to_list() == ["item_id-1", "item_id-3"]


def test_projects_paused_needs_reason_and_kickoff_order():
    projects = CONTRACT["onboarding_projects"]
    rows = [
        valid_row(projects, "1", status="paused", paused_reason=None),
        valid_row(
            projects,
            "2",
            kickoff_scheduled_at="2026-11-04T10:00:00Z",
            kickoff_completed_at="2026-11-04T09:00:00Z",
        ),
    ]
    result = validate(projects, source_frame(rows), "onboarding_projects.csv")
    assert violations(result) == [
        (1, "paused_reason", None, "required when status in (paused)"),
        (
            2,
            "kickoff_completed_at",
            "2026-11-04T09:00:00Z",
            "kickoff_completed_at before kickoff_scheduled_at",
        ),
    ]


def test_timestamps_need_an_offset_and_are_stored_as_utc():
    system_records = CONTRACT["system_records"]
    spellings = [
        ("2026-11-03T16:00:00Z", dt.datetime(2026, 11, 3, 16, tzinfo=UTC)),
        ("2026-11-03T17:00:00+01:00", dt.datetime(2026, 11, 3, 16, tzinfo=UTC)),
        ("2026-11-03T17:00:00.250+01:00", dt.datetime(2026, 11, 3, 16, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-03T11:00:00-0500", dt.datetime(2026, 11, 3, 16, tzinfo=UTC)),
        ("2026-11-03 17:00:00+01", dt.datetime(2026, 11, 3, 16, tzinfo=UTC)),
        ("2026-11-03T16:00Z", dt.datetime(2026, 11, 3, 16, tzinfo=UTC)),
        ("2026-11-03T16:00:00z", dt.datetime(2026, 11, 3, 16, tzinfo=UTC)),
    ]
    bad = [
        ("2026-11-03T16:00:00", "timestamp without offset"),
        ("2026-11-03 16:00:00.5", "timestamp without offset"),
        ("2026-11-03T16:00", "timestamp without offset"),
        ("2026-11-03", "not a valid timestamp"),
        ("2026-11-03t16:00:00Z", "not a valid timestamp"),
        ("2026-11-03T16:00:00 +01:00", "not a valid timestamp"),
        ("2026-11-31T16:00:00Z", "not a valid timestamp"),
        ("yesterday", "not a valid timestamp"),
    ]
    rows = [valid_row(system_records, str(i), observed_at=text) for i, (text, _) in enumerate(spellings + bad)]
    result = validate(system_records, source_frame(rows), "system_records.csv")
    assert result.good["observed_at"].to_list() == [expected for _, expected in spellings]
    assert violations(result) == [
        (len(spellings) + i + 1, "observed_at", text, reason) for i, (text, reason) in enumerate(bad)
    ]


def _digits(n: int) -> st.SearchStrategy[str]:
    """`n` digits, or now and then one more or fewer."""
    exact = st.text("0123456789", min_size=n, max_size=n)
    return st.one_of(exact, exact, st.text("0123456789", min_size=n - 1, max_size=n + 1))


SUFFIXES = st.sampled_from(["Z", "Z", "z", "", "+00:00", ".5Z", "Z ", "-0130"])
# The fast path's spelling of real instants, and of any digits in its fields (31 February,
# hour 24, second 60, a digit more or fewer ...), with its near misses: other offsets,
# fractions, trailing text, which the general formats read or reject.
COMMON_SHAPED = st.one_of(
    st.builds(
        lambda moment, suffix: moment.strftime("%Y-%m-%dT%H:%M:%S") + suffix,
        st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31)),
        SUFFIXES,
    ),
    st.builds(
        "{}-{}-{}T{}:{}:{}{}".format,
        _digits(4),
        _digits(2),
        _digits(2),
        _digits(2),
        _digits(2),
        _digits(2),
        SUFFIXES,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(COMMON_SHAPED, st.text(max_size=25), st.none()), min_size=1, max_size=40))
def test_the_common_timestamp_spelling_parses_as_the_general_formats_read_it(values):
    frame = pl.DataFrame({"value": values}, schema={"value": pl.String})
    fast = frame.select(_parse_ts(pl.col("value"), with_offset=True))["value"]
    general = frame.select(_parse_any_ts(pl.col("value"), with_offset=True))["value"]
    assert fast.to_list() == general.to_list()


def test_values_must_parse_exactly_as_their_type():
    billing = CONTRACT["billing_accounts"]
    rows = [
        valid_row(billing, "1", seats="1.0"),
        valid_row(billing, "2", po_required="1"),
        valid_row(billing, "3", first_invoice_date="2026-1-5"),
        valid_row(billing, "4", country="de"),
        valid_row(billing, "5", seats="+7", address_validated="false"),
    ]
    result = validate(billing, source_frame(rows), "billing_accounts.csv")
    assert violations(result) == [
        (1, "seats", "1.0", "not a valid int"),
        (2, "po_required", "1", "not a valid bool (expected true or false)"),
        (3, "first_invoice_date", "2026-1-5", "not a valid date (expected YYYY-MM-DD)"),
        (4, "country", "de", "does not match ^[A-Z]{2}$"),
    ]
    assert result.good.select("seats", "address_validated").row(0) == (7, False)


def test_decimal_rejects_non_numbers():
    suggestions = CONTRACT["ai_suggestions"]
    rows = [valid_row(suggestions, str(i), confidence=v) for i, v in enumerate(["NaN", "inf", "0.5", ".5"])]
    result = validate(suggestions, source_frame(rows), "ai_suggestions.csv")
    assert violations(result) == [
        (1, "confidence", "NaN", "not a valid decimal"),
        (2, "confidence", "inf", "not a valid decimal"),
    ]
    assert result.good["confidence"].to_list() == [0.5, 0.5]


def test_every_copy_of_a_duplicated_composite_key_is_quarantined():
    fields = CONTRACT["handoff_fields"]
    rows = [
        valid_row(fields, "1", field="package"),
        valid_row(fields, "1", field="billing_details"),
        valid_row(fields, "1", field="package", filled_by="ai"),
        valid_row(fields, "2", field="package"),
    ]
    result = validate(fields, source_frame(rows), "handoff_fields.csv")
    reason = "duplicate key (onboarding_id, field)"
    assert violations(result) == [
        (1, None, "onboarding_id-1, package", reason),
        (3, None, "onboarding_id-1, package", reason),
    ]
    assert result.good["_source_row"].to_list() == [2, 4]


def test_lists_are_split_on_semicolons():
    writebacks = CONTRACT["writebacks"]
    rows = [
        valid_row(writebacks, "1", fields_changed="owner; status;"),
        valid_row(writebacks, "2", fields_changed='say "hi", then {go}'),
        valid_row(writebacks, "3", fields_changed=None),
    ]
    result = validate(writebacks, source_frame(rows), "writebacks.csv")
    assert result.good["fields_changed"].to_list() == [["owner", "status"], ['say "hi", then {go}'], None]


def test_missing_required_column_rejects_the_file_naming_file_and_column():
    deals = CONTRACT["deals"]
    row = valid_row(deals)
    del row["segment"], row["stage"]
    with pytest.raises(ContractError, match=r"2026-11-03/deals\.csv: missing required column\(s\): segment, stage"):
        validate(deals, source_frame([row]), "2026-11-03/deals.csv")
    assert issubclass(ContractError, ValueError)


def test_missing_optional_column_reads_as_null_and_extra_columns_go_to_extra():
    deals = CONTRACT["deals"]
    row = valid_row(deals, crm_region="EMEA", legacy_flag=None)
    del row["package"]
    result = validate(deals, source_frame([row]), "deals.csv")
    assert result.quarantine.is_empty()
    assert result.good.columns == [*deals.column_names, "_source_row", "_extra"]
    assert result.good["package"].to_list() == [None]
    assert json.loads(result.good["_extra"].item()) == {"crm_region": "EMEA", "legacy_flag": None}


def test_typed_parquet_columns_are_checked_like_csv_cells():
    suggestions = CONTRACT["ai_suggestions"]
    text = source_frame([valid_row(suggestions, "1"), valid_row(suggestions, "2", reviewed_at=None)])
    typed = text.with_columns(
        confidence=pl.col("confidence").cast(pl.Float64),
        evidence_count=pl.col("evidence_count").cast(pl.Int32),
        material_commitment=pl.col("material_commitment") == "true",
        created_at=pl.col("created_at").str.to_datetime(time_zone="Europe/Paris"),
        reviewed_at=pl.col("reviewed_at").str.to_datetime(time_zone="UTC").dt.replace_time_zone(None),
    )
    from_text = validate(suggestions, text, "ai_suggestions.csv")
    from_typed = validate(suggestions, typed, "ai_suggestions.parquet")
    assert violations(from_typed) == [(1, "reviewed_at", "2026-11-03T08:30:00", "timestamp without offset")]
    assert from_typed.good.equals(from_text.good.filter(pl.col("_source_row") == 2))


def test_parquet_float_counts_are_ints_only_when_whole():
    billing = CONTRACT["billing_accounts"]
    rows = [valid_row(billing, str(i)) for i in range(1, 5)]
    typed = source_frame(rows).with_columns(seats=pl.Series([3.0, 2.5, None, float("inf")]))
    result = validate(billing, typed, "billing_accounts.parquet")
    assert violations(result) == [
        (2, "seats", "2.5", "not a valid int"),
        (4, "seats", "inf", "not a valid int"),
    ]
    assert result.good["seats"].to_list() == [3, None]


def test_header_only_file_gives_empty_typed_frames():
    milestones = CONTRACT["milestones"]
    empty = pl.DataFrame(schema=dict.fromkeys(milestones.column_names, pl.String))
    result = validate(milestones, empty, "milestones.csv")
    assert result.good.is_empty() and result.quarantine.is_empty()
    assert result.good.schema == {**polars_schema(milestones), "_source_row": pl.Int64, "_extra": pl.String}


def test_pandera_schema_is_the_contract():
    deals = CONTRACT["deals"]
    schema = pandera_schema(deals)
    assert isinstance(schema, pa.DataFrameSchema)
    assert list(schema.columns) == deals.column_names
    assert schema.unique == ["opportunity_id"]
    assert schema.columns["segment"].nullable is False
    assert schema.columns["account_name"].nullable is True
    with pytest.raises(pa.errors.SchemaErrors):
        schema.validate(source_frame([valid_row(deals, seats="-4")]), lazy=True)
    schema.validate(source_frame([valid_row(deals)]))


def test_polars_types_cover_every_contract_type():
    types = {c.type for entity in CONTRACT for c in entity.columns}
    assert types <= set(POLARS_TYPES)
