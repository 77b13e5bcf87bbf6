"""Hidden timelines for everything downstream of a deal: the project's own lifecycle and
the billing, provisioning, AI, writeback and system-record entities (handoff fields,
customer tasks and milestones come from `people.py`).

These follow a healthy process with ordinary variation (a slow owner assignment, an item
finished late). Fault areas rewrite the rows of their tables after `build_children`
(`people.py`, `systems.py`), and the snapshot code shows
whatever the hidden columns say. Every row records the instant it first exists
(`created_at`, `requested_at` or `appear_at`) so snapshots show records only once they
exist, and no child record exists before its project.

Numbers are drawn with numpy; strings come from polars gathers over small vocabularies
(`pick`, `Series.gather`), which keeps a 100k-customer month to seconds.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hypercare.synth.clock import HOUR, MINUTE, NEVER, Clock, later
from hypercare.synth.model import (
    ENTERPRISE,
    MID_MARKET,
    MODULES,
    PO_REQUIRED,
    REGIONS,
    SERVICES,
    foreign_offsets,
    people,
    pick,
    sequence_ids,
    stream,
    uniform_seconds,
    where_text,
)

HANDOFF_FIELDS = (
    "legal_account_name",
    "package",
    "contracted_services",
    "success_criteria",
    "promised_timeline",
    "stakeholder_buyer",
    "stakeholder_champion",
    "stakeholder_admin",
    "stakeholder_technical_owner",
    "stakeholder_billing_contact",
    "stakeholder_executive_sponsor",
    "implementation_constraints",
    "non_standard_terms",
    "billing_details",
    "customer_task_dependencies",
)
MILESTONES = ("kickoff", "implementation", "configuration", "launch", "first_value")
COUNTRIES_BY_REGION = {
    "NA": ("US", "CA"),
    "EMEA": ("DE", "GB", "FR", "NL"),
    "APAC": ("AU", "SG", "JP"),
    "LATAM": ("BR", "MX"),
}
COUNTRIES = tuple(c for region in REGIONS for c in COUNTRIES_BY_REGION[region])
CITIES = (
    "Austin",
    "Toronto",
    "Berlin",
    "London",
    "Lyon",
    "Utrecht",
    "Sydney",
    "Singapore",
    "Osaka",
    "Curitiba",
    "Monterrey",
)
TAX_COUNTRIES = ("DE", "GB", "FR", "NL", "BR", "MX")
ITEM_TYPES = ("entitlement", "workspace", "identity", "integration", "data_migration", "support_handoff")
ITEM_DUE_BUSINESS_DAYS = (2, 3, 5, 10, 15, 20)
TASK_TYPES = (
    "kickoff_attendance",
    "forms",
    "admin_invite",
    "integration_credentials",
    "data_upload",
    "technical_validation",
    "training",
    "first_use_case",
)
TASKS_BLOCKING_FIRST_VALUE = ("admin_invite", "integration_credentials", "first_use_case")
AI_KINDS = (
    "handoff_summary",
    "field_extraction",
    "package_classification",
    "welcome_email_draft",
    "next_action",
    "risk_flag",
)
AI_KIND_SHARE = (1.0, 0.8, 0.5, 0.7, 0.6, 0.2)
WRITE_TARGETS = ("crm", "cs_platform", "project_tool", "billing", "product_admin", "messaging")
WRITE_FIELDS = (
    "onboarding_id;onboarding_status",
    "owner;stage",
    "template;milestones",
    "plan;seats",
    "entitlements",
    "welcome_channel",
)
WRITE_SHARE = (1.0, 1.0, 1.0, 0.6, 1.0, 0.5)
SYSTEM_FIELDS = (
    ("package", ("crm", "cs_platform", "billing", "product_admin")),
    ("seats", ("crm", "billing", "product_admin")),
    ("scope", ("crm", "cs_platform", "project_tool")),
    ("onboarding_owner", ("crm", "cs_platform", "project_tool", "support")),
    ("status", ("crm", "cs_platform", "project_tool")),
    ("go_live", ("crm", "cs_platform", "project_tool")),
)
PROJECT_EVENTS_FOR_SYSTEMS = (
    "created_at",
    "paused_at",
    "resumed_at",
    "cancelled_at",
    "completed_at",
    "owner_assigned_at",
    "onboarding_owner",
)
DAY = 86_400


def _choice(rng: np.random.Generator, vocabulary: tuple[str, ...], n: int, p: list[float] | None = None) -> pl.Series:
    return pick(vocabulary, rng.choice(len(vocabulary), n, p=p))


def _has(mask: np.ndarray, vocabulary: tuple[str, ...], name: str) -> np.ndarray:
    return (mask >> vocabulary.index(name) & 1).astype(bool)


def _per_project(projects: pl.DataFrame, column: str, project: np.ndarray) -> pl.Series:
    return projects[column].gather(project)


def _expand(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(project row, kind code) for every True cell of a projects x kinds matrix."""
    return np.nonzero(wanted)


def enrich_projects(seed: int, projects: pl.DataFrame, deals: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """Owners, handoff packet and kickoff for every project, relative to its creation."""
    rng = stream(seed, "projects.lifecycle")
    n = len(projects)
    deal = projects["deal"].to_numpy()
    segment = deals["segment_code"].to_numpy()[deal]
    created = projects["created_at"].to_numpy()
    close = deals["closed_won_at"].to_numpy()[deal]
    close = np.where(close < NEVER, close, deals["signed_at"].to_numpy()[deal])
    close = np.where(close < NEVER, close, created)
    modules = deals["modules_mask"].to_numpy()[deal]
    po_required = deals["payment_code"].to_numpy()[deal] == PO_REQUIRED

    submitted = clock.add_seconds(close, uniform_seconds(rng, -DAY, 8 * HOUR, n))
    answer_at = clock.add_business_days(later(submitted, created), rng.uniform(0.05, 1.3, n))
    rejected = rng.random(n) < 0.07
    slow_owner = rng.random(n) < 0.08
    owner_days = np.where(slow_owner, rng.uniform(1.0, 3.0, n), rng.uniform(0.02, 0.9, n))
    owner_at = clock.add_business_days(created, owner_days)
    needs_technical = (segment == ENTERPRISE) | _has(modules, MODULES, "integrations") | _has(modules, MODULES, "api")
    task_at = np.where(
        rng.random(n) < 0.96,
        clock.add_seconds(created, uniform_seconds(rng, MINUTE, 30 * MINUTE, n)),
        clock.add_business_days(created, rng.uniform(1.1, 3, n)),
    )
    scheduled_at = clock.add_business_days(later(owner_at, task_at), rng.uniform(0.1, 1.8, n))
    lead = rng.integers(2, 9, n)
    meeting_day = clock.next_business_day(clock.day_of(scheduled_at), 1)
    last_position = len(clock.business_days) - 1
    position = np.minimum(np.searchsorted(clock.business_days, meeting_day) + lead - 1, last_position)
    meeting_at = clock.at(clock.business_days[position], uniform_seconds(rng, 9.5 * HOUR, 16 * HOUR, n))
    scheduled_for = np.where(scheduled_at < NEVER, meeting_at, NEVER)
    held = rng.random(n) < 0.92
    meeting_length = uniform_seconds(rng, 30 * MINUTE, 75 * MINUTE, n)
    kickoff_done = np.where(held, clock.add_seconds(scheduled_for, meeting_length), NEVER)
    run_days = np.select(
        [segment == ENTERPRISE, segment == MID_MARKET],
        [rng.uniform(35, 60, n), rng.uniform(20, 35, n)],
        rng.uniform(10, 20, n),
    )
    role_assigned_at = clock.add_business_days(created, rng.uniform(0.2, 2, n))
    gathered = {c: deals[c].gather(deal) for c in ("account_id", "opportunity_id", "segment", "package")}
    return projects.with_columns(
        **gathered,
        template=gathered["segment"] + "_onboarding_v3",
        scope=deals["contracted_services"].gather(deal),
        handoff_submitted_at=submitted,
        handoff_accepted_at=np.where(rejected, NEVER, answer_at),
        handoff_rejected_at=np.where(rejected, answer_at, NEVER),
        onboarding_owner=people("onb", rng.integers(0, 25, n), 25),
        owner_assigned_at=owner_at,
        csm_owner=people("csm", rng.integers(0, 30, n), 30),
        csm_at=clock.add_business_days(created, rng.uniform(0.1, 1.5, n)),
        technical_owner=people("se", rng.integers(0, 15, n), 15),
        technical_at=np.where(needs_technical, role_assigned_at, NEVER),
        finance_owner=people("fin", rng.integers(0, 8, n), 8),
        finance_at=np.where(po_required, role_assigned_at, NEVER),
        kickoff_task_created_at=task_at,
        kickoff_scheduled_at=scheduled_at,
        kickoff_scheduled_for=scheduled_for,
        kickoff_completed_at=kickoff_done,
        kickoff_no_shows=rng.choice(3, n, p=[0.9, 0.08, 0.02]),
        kickoff_reschedules=rng.choice(3, n, p=[0.86, 0.11, 0.03]),
        completed_at=clock.add_business_days(kickoff_done, run_days),
    )


def billing_accounts(rng: np.random.Generator, deals: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """One billing account per CRM account, opened around close and completed over days."""
    n = len(deals)
    region = deals["crm_region"].to_numpy()
    country = np.zeros(n, dtype=np.int64)
    for name in REGIONS:
        here = region == name
        choices = np.array([COUNTRIES.index(c) for c in COUNTRIES_BY_REGION[name]])
        country[here] = rng.choice(choices, int(here.sum()))
    opened = clock.add_seconds(deals["visible_at"].to_numpy(), uniform_seconds(rng, HOUR, DAY, n))
    po_required = deals["payment_code"].to_numpy() == PO_REQUIRED
    tax_required = np.isin(country, [COUNTRIES.index(c) for c in TAX_COUNTRIES]) | (rng.random(n) < 0.1)
    verified_at = np.where(
        tax_required & (rng.random(n) < 0.85), clock.add_business_days(opened, rng.uniform(0.5, 6, n)), NEVER
    )
    start_date = np.array(clock.dates, dtype="datetime64[D]")[clock.day_of(opened)] + rng.integers(0, 21, n).astype(
        "timedelta64[D]"
    )
    account_slug = deals["account_id"].str.to_lowercase().str.replace("-", "")
    return pl.DataFrame(
        {
            "account_id": deals["account_id"],
            "billing_entity": deals["account_name"],
            "bill_to_contact": "ap@" + account_slug + ".example.com",
            "address_line1": pl.Series(rng.integers(1, 999, n)).cast(pl.String) + " Market Street",
            "city": pick(CITIES, country),
            "postal_code": pl.Series(rng.integers(1000, 99999, n)).cast(pl.String).str.zfill(5),
            "country": pick(COUNTRIES, country),
            "address_validated": rng.random(n) < 0.96,
            "tax_id_required": tax_required,
            "tax_verified_at": verified_at,
            "tax_unverified_status": pick(("pending", "missing"), (verified_at >= NEVER).astype(int)),
            "po_required": po_required,
            "po_number": "PO-" + pl.Series(rng.integers(100000, 999999, n)).cast(pl.String),
            "po_at": np.where(
                po_required & (rng.random(n) < 0.85), clock.add_business_days(opened, rng.uniform(0.2, 5, n)), NEVER
            ),
            "invoice_schedule": _choice(
                rng, ("upfront", "monthly", "quarterly", "annual", "milestone"), n, [0.2, 0.25, 0.2, 0.3, 0.05]
            ),
            "first_invoice_date": start_date,
            "payment_terms": _choice(rng, ("net_30", "net_45", "net_60", "due_on_receipt"), n, [0.6, 0.2, 0.1, 0.1]),
            "contract_start_date": start_date,
            "plan": deals["package"],
            "seats": deals["seats"],
            "created_at": opened,
            "updated_by": people("fin", rng.integers(0, 8, n), 8),
            "update_source": _choice(rng, ("finance", "revops", "automation"), n, [0.5, 0.3, 0.2]),
            "reviewed_by": people("fin", rng.integers(0, 8, n), 8),
            "_offset": foreign_offsets(rng, n),
        }
    )


def provisioning_items(
    rng: np.random.Generator, projects: pl.DataFrame, deals: pl.DataFrame, clock: Clock
) -> pl.DataFrame:
    """Entitlement, workspace, identity and support hand-off for everyone; integration and
    data migration items when sold. Items start, mostly finish, and sometimes fail."""
    deal = projects["deal"].to_numpy()
    modules = deals["modules_mask"].to_numpy()[deal]
    services = deals["services_mask"].to_numpy()[deal]
    always = np.ones(len(projects), dtype=bool)
    wanted = np.stack(
        [
            always,
            always,
            always,
            _has(modules, MODULES, "integrations") | _has(services, SERVICES, "integration_setup"),
            _has(services, SERVICES, "data_migration"),
            always,
        ],
        axis=1,
    )
    project, kind = _expand(wanted)
    n = len(project)
    project_created = projects["created_at"].to_numpy()[project]
    created = clock.add_seconds(project_created, uniform_seconds(rng, 2 * MINUTE, HOUR, n))
    due_days = np.array(ITEM_DUE_BUSINESS_DAYS)[kind]
    started = clock.add_business_days(created, rng.uniform(0.05, 2, n))
    roll = rng.random(n)
    done = np.where(roll < 0.93, clock.add_business_days(started, rng.uniform(0.1, 0.9, n) * due_days), NEVER)
    failed = np.where(roll >= 0.97, clock.add_business_days(started, rng.uniform(0.1, 2, n)), NEVER)
    identity_system = pick(("okta", "azure_ad", "google_workspace"), rng.integers(0, 3, n))
    integration_system = pick(("salesforce", "hubspot", "netsuite"), rng.integers(0, 3, n))
    sso = _has(modules[project], MODULES, "sso")
    rows = pl.DataFrame(
        {
            "item_id": sequence_ids("ITM-", n, 8),
            "onboarding_id": _per_project(projects, "onboarding_id", project),
            "item_type": pick(ITEM_TYPES, kind),
            "package": _per_project(projects, "package", project),
            "account_id": _per_project(projects, "account_id", project),
            "identity_system": identity_system,
            "integration_system": integration_system,
            "sso": sso,
            "internal_owner": people("se", rng.integers(0, 15, n), 15),
            "customer_owner": where_text(rng.random(n) < 0.9, people("admin", rng.integers(0, 500, n), 500)),
            "created_at": created,
            "due_at": clock.add_business_days(created, due_days),
            "started_at": started,
            "done_at": done,
            "failed_at": failed,
            "attempts_final": np.where(failed < NEVER, 3, rng.choice([1, 2], n, p=[0.9, 0.1])),
            "last_error": pick(("upstream timeout",), np.zeros(n, dtype=int)),
            "manual_override": rng.random(n) < 0.02,
            "override_approved_by": people("lead", rng.integers(0, 4, n), 4),
            "_offset": foreign_offsets(rng, n),
        }
    )
    item = pl.col("item_type")
    return rows.with_columns(
        target_system=pl.when(item == "identity")
        .then("identity_system")
        .when(item == "integration")
        .then("integration_system")
        .when(item == "data_migration")
        .then(pl.lit("warehouse"))
        .when(item == "support_handoff")
        .then(pl.lit("zendesk"))
        .otherwise(pl.lit("product_admin")),
        expected_value=pl.when(item == "entitlement")
        .then("package")
        .when(item == "workspace")
        .then(pl.col("account_id") + "-ws")
        .when(item == "identity")
        .then(pl.when("sso").then(pl.lit("sso")).otherwise(pl.lit("password")))
        .when(item == "integration")
        .then("integration_system")
        .when(item == "data_migration")
        .then(pl.lit("historical_records"))
        .otherwise(pl.lit("standard_support")),
    ).drop("package", "account_id", "identity_system", "integration_system", "sso")


def ai_suggestions(rng: np.random.Generator, projects: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """Summaries, extractions and drafts per onboarding; uncertain ones go to a reviewer,
    customer-facing drafts are always reviewed before sending."""
    wanted = rng.random((len(projects), len(AI_KINDS))) < np.array(AI_KIND_SHARE)
    project, kind_code = _expand(wanted)
    n = len(project)
    project_created = projects["created_at"].to_numpy()[project]
    created = clock.add_seconds(project_created, uniform_seconds(rng, MINUTE, 3 * HOUR, n))
    confidence = np.round(np.clip(rng.beta(9, 2, n), 0.3, 0.99), 2)
    classification = kind_code == AI_KINDS.index("package_classification")
    customer_facing = kind_code == AI_KINDS.index("welcome_email_draft")
    threshold = np.where(classification, 0.9, 0.8)
    reviewed = (confidence < threshold) | customer_facing | (rng.random(n) < 0.1)
    reviewed_at = np.where(reviewed, clock.add_business_days(created, rng.uniform(0.05, 1.5, n)), NEVER)
    decisions = ("accepted", "corrected", "rejected")
    decision = np.where(reviewed, rng.choice(3, n, p=[0.75, 0.18, 0.07]), 0)
    sent = customer_facing & (decision != 2)
    extraction = kind_code == AI_KINDS.index("field_extraction")
    field_code = np.where(
        extraction,
        rng.integers(0, len(HANDOFF_FIELDS), n),
        np.where(classification, HANDOFF_FIELDS.index("package"), -1),
    )
    sensitive = rng.random(n) < 0.15
    send_delay = uniform_seconds(rng, 5 * MINUTE, 3 * HOUR, n)
    return pl.DataFrame(
        {
            "suggestion_id": sequence_ids("SUG-", n, 8),
            "onboarding_id": _per_project(projects, "onboarding_id", project),
            "kind": pick(AI_KINDS, kind_code),
            "field": pick(HANDOFF_FIELDS, field_code),
            "suggested_value": where_text(classification, _per_project(projects, "package", project)),
            "confidence": confidence,
            "evidence_count": rng.poisson(3, n) + (rng.random(n) < 0.5),
            "material_commitment": (kind_code == 0) & (rng.random(n) < 0.2),
            "model": _choice(rng, ("extract-large-2026-09", "summarize-medium-2026-10"), n),
            "prompt_version": pick([f"{k}@v3" for k in AI_KINDS], kind_code),
            "created_at": created,
            "routing": pick(("auto_applied", "human_review"), reviewed.astype(int)),
            "final_decision": pick(decisions, decision),
            "reviewer": people("onb", rng.integers(0, 25, n), 25),
            "reviewed_at": reviewed_at,
            "corrected_value": pick(("see reviewer note",), np.where(decision == 1, 0, -1)),
            "rejection_reason": pick(("unsupported by source",), np.where(decision == 2, 0, -1)),
            "customer_facing": customer_facing,
            "sent_at": np.where(sent, clock.add_seconds(reviewed_at, send_delay), NEVER),
            "sensitive_data": sensitive,
            "access_scope": pick(("crm:read:contacts",), np.where(sensitive, 0, -1)),
            "_offset": foreign_offsets(rng, n),
        }
    )


def writebacks(rng: np.random.Generator, projects: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """Writes to the systems of record right after creation and owner assignment; a few
    need retries before they succeed."""
    wanted = rng.random((len(projects), len(WRITE_TARGETS))) < np.array(WRITE_SHARE)
    project, target = _expand(wanted)
    n = len(project)
    created = projects["created_at"].to_numpy()[project]
    owner_at = projects["owner_assigned_at"].to_numpy()[project]
    after_owner = target == WRITE_TARGETS.index("cs_platform")
    requested = clock.add_seconds(
        np.where(after_owner, later(owner_at, created), created), uniform_seconds(rng, 5, 20 * MINUTE, n)
    )
    flaky = rng.random(n) < 0.04
    took = np.where(flaky, uniform_seconds(rng, 5 * MINUTE, 2 * HOUR, n), uniform_seconds(rng, 1, 120, n))
    return pl.DataFrame(
        {
            "writeback_id": sequence_ids("WB-", n, 8),
            "onboarding_id": _per_project(projects, "onboarding_id", project),
            "target_system": pick(WRITE_TARGETS, target),
            "record_id": where_text(target == 0, _per_project(projects, "account_id", project)),
            "fields_changed": pick(WRITE_FIELDS, target),
            "requested_at": requested,
            "retry_at": np.where(flaky, clock.add_seconds(requested, 30), NEVER),
            "completed_at": clock.add_seconds(requested, took),
            "final_attempts": np.where(flaky, rng.integers(2, 4, n), 1),
            "error": pick(("HTTP 503 from target",), np.zeros(n, dtype=int)),
            "idempotency_key": sequence_ids("idem-", n, 9),
            "actor": _choice(rng, ("automation", "ai", "human"), n, [0.85, 0.1, 0.05]),
            "_offset": foreign_offsets(rng, n),
        }
    )


def system_records(rng: np.random.Generator, projects: pl.DataFrame, deals: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """What each system says about the shared fields. Static fields copy the deal; owner and
    status follow the project at snapshot time, so they carry the project's timeline."""
    pairs = [(f, s) for f, systems in SYSTEM_FIELDS for s in systems]
    k = len(pairs)
    project = np.repeat(np.arange(len(projects)), k)
    n = len(project)
    deal = projects["deal"].to_numpy()[project]
    pair = np.tile(np.arange(k), len(projects))
    project_created = projects["created_at"].to_numpy()[project]
    observed = clock.add_seconds(project_created, uniform_seconds(rng, MINUTE, HOUR, n))
    rows = pl.DataFrame(
        {
            "onboarding_id": _per_project(projects, "onboarding_id", project),
            "system": pick([s for _, s in pairs], pair),
            "field": pick([f for f, _ in pairs], pair),
            "package": _per_project(projects, "package", project),
            "scope": _per_project(projects, "scope", project),
            "seats": deals["seats"].gather(deal).cast(pl.String),
            "go_live": deals["promised_go_live"].gather(deal).dt.strftime("%Y-%m-%d"),
            "observed_at": observed,
            "lag": uniform_seconds(rng, MINUTE, 30 * MINUTE, n),
            "_offset": foreign_offsets(rng, len(projects))[project],
        }
    )
    field = pl.col("field")
    static = (
        pl.when(field == "package")
        .then("package")
        .when(field == "seats")
        .then("seats")
        .when(field == "scope")
        .then("scope")
        .when(field == "go_live")
        .then("go_live")
    )
    events = projects.select([pl.col(c).alias(f"p_{c}") for c in PROJECT_EVENTS_FOR_SYSTEMS])[project]
    static_rows = rows.with_columns(static_value=static).drop("package", "scope", "seats", "go_live")
    return pl.concat([static_rows, events], how="horizontal")


def build_children(seed: int, projects: pl.DataFrame, deals: pl.DataFrame, clock: Clock) -> dict[str, pl.DataFrame]:
    """Every downstream entity's hidden table, each from its own random stream."""
    return {
        "billing_accounts": billing_accounts(stream(seed, "billing_accounts"), deals, clock),
        "provisioning_items": provisioning_items(stream(seed, "provisioning_items"), projects, deals, clock),
        "ai_suggestions": ai_suggestions(stream(seed, "ai_suggestions"), projects, clock),
        "writebacks": writebacks(stream(seed, "writebacks"), projects, clock),
        "system_records": system_records(stream(seed, "system_records"), projects, deals, clock),
    }
