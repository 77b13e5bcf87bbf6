"""Billing readiness: will first invoice or finance cleanup block onboarding?

Findings name the missing or conflicting fields and route them to their owner; the
monitor never proposes a value for finance data.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, escalation, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context

_ADDRESS_PARTS = ["address_line1", "city", "postal_code", "country"]


def _norm(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    cal = ruleset.calendar
    as_of_end = cal.as_of_end(as_of).astimezone(dt.UTC)
    deals = snapshot["deals"].select(
        "opportunity_id", pl.col("package").alias("deal_package"), pl.col("seats").alias("deal_seats")
    )
    onboardings = (
        onboarding_context(snapshot, ruleset)
        .filter(pl.col("open"))
        .sort("created_at", "project_id")
        .unique(subset=["account_id"], keep="first", maintain_order=True)
        .select(
            "account_id",
            "onboarding_id",
            "opportunity_id",
            "segment",
            "strategic",
            "high_value",
            "kickoff_scheduled_for",
        )
    )
    launch = (
        snapshot["milestones"]
        .filter((pl.col("milestone") == "launch") & pl.col("completed_at").is_null())
        .select("onboarding_id", pl.col("target_at").alias("launch_target_at"))
    )
    accounts = (
        snapshot["billing_accounts"]
        .join(onboardings, on="account_id")
        .join(deals, on="opportunity_id", how="left")
        .join(launch, on="onboarding_id", how="left")
        .with_columns(
            (pl.col("first_invoice_date") - pl.lit(as_of)).dt.total_days().alias("days_to_first_invoice"),
            cal.local_date(pl.col("kickoff_scheduled_for")).alias("kickoff_date"),
            ((pl.col("launch_target_at") - pl.lit(as_of_end)).dt.total_seconds() / 86_400).alias("days_to_launch"),
            pl.concat_list([pl.when(pl.col(c).is_null()).then(pl.lit(c)) for c in _ADDRESS_PARTS])
            .list.drop_nulls()
            .alias("missing_address_parts"),
        )
    )
    findings = []

    rule = ruleset.rule("billing.missing_bill_to")
    urgent = (pl.col("days_to_first_invoice") <= rule.param("invoice_within_days")) | (
        pl.col("first_invoice_date") < pl.col("kickoff_date")
    )
    findings.append(_missing_bill_to(rule, accounts, urgent))

    rule = ruleset.rule("billing.invalid_address")
    findings.append(
        findings_from(
            rule,
            accounts.filter((pl.col("missing_address_parts").list.len() > 0) | ~pl.col("address_validated")),
            subject="account_id",
            evidence=["missing_address_parts", "address_validated", "country"],
        )
    )

    rule = ruleset.rule("billing.tax_id_missing")
    findings.append(
        findings_from(
            rule,
            accounts.filter(pl.col("tax_id_required") & pl.col("tax_id_status").is_in(["missing", "invalid"])),
            subject="account_id",
            evidence=["tax_id_required", "tax_id_status"],
        )
    )

    rule = ruleset.rule("billing.po_missing")
    findings.append(
        findings_from(
            rule,
            accounts.filter(pl.col("po_required") & pl.col("po_number").is_null()),
            subject="account_id",
            evidence=["po_required"],
        )
    )

    rule = ruleset.rule("billing.terms_conflict")
    plan_conflict = (
        pl.col("plan").is_not_null() & pl.col("deal_package").is_not_null() & (_norm("plan") != _norm("deal_package"))
    )
    seat_conflict = (
        pl.col("seats").is_not_null() & pl.col("deal_seats").is_not_null() & (pl.col("seats") != pl.col("deal_seats"))
    )
    findings.append(
        findings_from(
            rule,
            accounts.filter(plan_conflict | seat_conflict).with_columns(
                pl.concat_list(
                    pl.when(plan_conflict).then(pl.lit("plan")), pl.when(seat_conflict).then(pl.lit("seats"))
                )
                .list.drop_nulls()
                .alias("conflicting_fields")
            ),
            subject="account_id",
            evidence=["conflicting_fields", "plan", "deal_package", "seats", "deal_seats"],
        )
    )

    rule = ruleset.rule("billing.unreviewed_change")
    findings.append(
        findings_from(
            rule,
            accounts.filter(
                pl.col("update_source").is_in(list(rule.param("unreviewed_sources"))) & pl.col("reviewed_by").is_null()
            ),
            subject="account_id",
            since="updated_at",
            evidence=["update_source", "updated_at", "updated_by"],
        )
    )

    found = pl.concat(findings)
    rule = ruleset.rule("billing.blocks_invoice_or_launch")
    within = rule.param("within_days")
    open_rules = found.group_by("subject_key").agg(pl.col("rule_id").sort().alias("billing_findings"))
    blocking = accounts.join(open_rules, left_on="account_id", right_on="subject_key").filter(
        (pl.col("days_to_first_invoice") <= within) | (pl.col("days_to_launch") <= within)
    )
    found = pl.concat(
        [
            found,
            findings_from(
                rule,
                blocking,
                subject="account_id",
                evidence=["billing_findings", "first_invoice_date", "launch_target_at"],
            ),
        ]
    )
    metrics = pl.concat(
        [
            metrics_by(found.with_columns(pl.lit("all").alias("all")), "billing_findings", "all", pl.len()),
            metrics_by(found, "billing_findings", "rule_id", pl.len()),
            metrics_by(found.filter(pl.col("rule_id") == rule.rule_id), "billing_blockers", "segment", pl.len()),
        ]
    )
    trace = trace_from(
        accounts,
        event_type="billing_record_updated",
        event_at="updated_at",
        ref_id="account_id",
        attributes=["update_source", "updated_by", "reviewed_by", "invoice_schedule", "first_invoice_date"],
    )
    return AreaResult(findings=found, metrics=metrics, trace=trace)


def _missing_bill_to(rule, accounts: pl.DataFrame, urgent: pl.Expr) -> pl.DataFrame:
    rows = accounts.filter(pl.col("bill_to_contact").is_null()).with_columns(
        urgent.fill_null(False).alias("urgent"), pl.lit(["bill_to_contact"]).alias("missing_fields")
    )
    return findings_from(
        rule,
        rows,
        subject="account_id",
        evidence=["missing_fields", "first_invoice_date", "kickoff_date"],
        **escalation(rule, "urgent", "urgent"),
    )
