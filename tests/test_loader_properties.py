"""Property-based tests of the loader: whatever bytes an export holds, a load never raises.

Rows are generated from include/schemas/contract.yaml, then cells, bytes and headers are
mutated. For every input the load either lands every good row and quarantines the bad
ones (each with its row, line and reason), or rejects the file with a message naming
it. The CI budget is small; `make fuzz` runs the long profile and prints how many inputs
were tried.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypercare.contract import Entity, load_contract, validate
from hypercare.loader import load_snapshot, read_snapshot
from hypercare.snapshot import entity_schema
from hypercare.snapshot_cache import SnapshotCache
from tests.test_contract import valid_row
from tests.test_snapshot_cache import assert_same_values

CONTRACT = load_contract()
DAY = dt.date(2026, 11, 3)
ENTITIES = [entity.name for entity in CONTRACT]

NASTY_CELLS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "line\nbreak",
    "tab\tin",
    '"quoted"',
    "comma,inside",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "0000-06-01T00:00:00Z",
    "2026-02-30",
    "2026-11-03T25:00:00Z",
    "2026-11-03T09:00:00",
    "1e309",
    "-1e309",
    "1e-400",
    "-0",
    "NaN",
    "inf",
    "99999999999999999999",
    "TRUE",
    "yes",
    "<!channel>",
    "<https://evil.example|click>",
    "x" * 25_000,
    "\u202eevil",
    "\ufeffbom",
]


@st.composite
def export(draw):
    """One entity file: valid rows from the contract, then broken cells, header and bytes."""
    entity: Entity = CONTRACT[draw(st.sampled_from(ENTITIES))]
    size = draw(st.integers(0, 6))
    rows = [valid_row(entity, str(index)) for index in range(size)]
    touched: set[int] = set()
    for _ in range(draw(st.integers(0, 3)) if rows else 0):
        index = draw(st.integers(0, size - 1))
        column = draw(st.sampled_from(entity.column_names))
        rows[index][column] = draw(st.one_of(st.sampled_from(NASTY_CELLS), st.text(max_size=20)))
        touched.add(index)
    header = list(entity.column_names)
    header_change = draw(st.sampled_from(["none", "none", "none", "drop", "duplicate", "upper", "extra"]))
    if header_change == "drop":
        header.remove(draw(st.sampled_from(header)))
    elif header_change == "duplicate":
        header.append(draw(st.sampled_from(header)))
    elif header_change == "upper":
        position = draw(st.integers(0, len(header) - 1))
        header[position] = header[position].upper()
    elif header_change == "extra":
        header.append("crm_region")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "x") for name in header])
    raw = buffer.getvalue().encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 4)) == 0 and raw:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
        touched = set(range(size))
    return entity.name, rows, touched, raw, header_change


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=export())
def test_a_load_never_raises_and_accounts_for_every_row(conn, tmp_path, case):
    name, rows, touched, raw, header_change = case
    entity = CONTRACT[name]
    folder = tmp_path / DAY.isoformat()
    folder.mkdir(exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    (folder / f"{entity.name}.csv").write_bytes(raw)

    report = load_snapshot(conn, tmp_path, DAY)
    load = report[entity.name]
    landed = conn.execute(f"select count(*) from {entity.landing_table} where snapshot_date = %s", (DAY,)).fetchone()[0]
    quarantine = pl.DataFrame(
        conn.execute(
            "select row_number, line_number, reason from hypercare.quarantine where snapshot_date = %s", (DAY,)
        ).fetchall(),
        schema={"row_number": pl.Int64, "line_number": pl.Int64, "reason": pl.String},
        orient="row",
    )
    assert load.status in ("loaded", "rejected"), load
    if load.status == "rejected":
        assert load.message.startswith(f"{DAY}/{entity.name}.csv: "), load.message
        assert landed == 0 and quarantine.is_empty()
        return
    assert load.rows_loaded + load.rows_quarantined == load.rows_read == landed + quarantine["row_number"].n_unique()
    assert quarantine["row_number"].is_between(1, load.rows_read).all()
    assert (quarantine["line_number"] >= 2).all()
    assert (quarantine["reason"].str.len_chars() > 0).all()
    load_id, rows_loaded = conn.execute(
        "select load_id::text, rows_loaded from hypercare.load_runs where snapshot_date = %s and entity = %s",
        (DAY, entity.name),
    ).fetchone()
    copy = SnapshotCache.from_env().read(load_id, entity.name, entity_schema(entity.name), rows_loaded)
    assert copy is not None
    assert_same_values(copy, read_snapshot(conn, entity.name, DAY))
    if header_change in ("none", "extra") and load.rows_read == len(rows):
        keys = [tuple(row[k] for k in entity.key) for row in rows]
        clean = [i for i, key in enumerate(keys) if i not in touched and keys.count(key) == 1]
        assert landed >= len(clean)


@st.composite
def mutated_frame(draw):
    """Rows of one entity with nasty cells, duplicated keys and missing values, as strings."""
    entity: Entity = CONTRACT[draw(st.sampled_from(ENTITIES))]
    size = draw(st.integers(1, 8))
    rows = [valid_row(entity, str(draw(st.integers(0, size)))) for _ in range(size)]
    for _ in range(draw(st.integers(0, 4))):
        row = rows[draw(st.integers(0, size - 1))]
        column = draw(st.sampled_from(entity.column_names))
        row[column] = draw(st.one_of(st.none(), st.sampled_from(NASTY_CELLS), st.text(max_size=12)))
    return entity, pl.DataFrame(rows, schema=dict.fromkeys(entity.column_names, pl.String))


@given(case=mutated_frame())
def test_the_one_pass_screen_reports_exactly_what_pandera_reports_on_every_row(case):
    entity, frame = case
    screened = validate(entity, frame, "x.csv")
    full = validate(entity, frame, "x.csv", screen=False)
    assert screened.quarantine.equals(full.quarantine)
    assert screened.good.equals(full.good)
