"""Billing readiness: will first invoice or finance cleanup block onboarding?

Findings name the missing or conflicting fields and route them to their owner; the
monitor never proposes a value for finance data.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import escalation, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context

_ADDRESS_PARTS = ["address_line1", "city", "postal_code", "country"]


def _norm(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()


class BillingRun(AreaRun):
    @cached_property
    def accounts(self) -> pl.DataFrame:
        """Billing accounts of accounts with an open project, tied to the earliest open
        onboarding, with the deal's terms, the launch target and the days left."""
        as_of, as_of_end = self.as_of, self.cal.as_of_end(self.as_of).astimezone(dt.UTC)
        deals = self.snapshot["deals"].select(
            "opportunity_id", pl.col("package").alias("deal_package"), pl.col("seats").alias("deal_seats")
        )
        onboardings = (
            onboarding_context(self.snapshot, self.ruleset)
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
            self.snapshot["milestones"]
            .filter((pl.col("milestone") == "launch") & pl.col("completed_at").is_null())
            .select("onboarding_id", pl.col("target_at").alias("launch_target_at"))
        )
        return (
            self.snapshot["billing_accounts"]
            .join(onboardings, on="account_id")
            .join(deals, on="opportunity_id", how="left")
            .join(launch, on="onboarding_id", how="left")
            .with_columns(
                (pl.col("first_invoice_date") - pl.lit(as_of)).dt.total_days().alias("days_to_first_invoice"),
                self.cal.local_date(pl.col("kickoff_scheduled_for")).alias("kickoff_date"),
                ((pl.col("launch_target_at") - pl.lit(as_of_end)).dt.total_seconds() / 86_400).alias("days_to_launch"),
                pl.concat_list([pl.when(pl.col(c).is_null()).then(pl.lit(c)) for c in _ADDRESS_PARTS])
                .list.drop_nulls()
                .alias("missing_address_parts"),
            )
        )

    def metrics(self, found: pl.DataFrame) -> pl.DataFrame:
        return pl.concat(
            [
                metrics_by(found.with_columns(pl.lit("all").alias("all")), "billing_findings", "all", pl.len()),
                metrics_by(found, "billing_findings", "rule_id", pl.len()),
                metrics_by(
                    found.filter(pl.col("rule_id") == "billing.blocks_invoice_or_launch"),
                    "billing_blockers",
                    "segment",
                    pl.len(),
                ),
            ]
        )

    def trace(self) -> pl.DataFrame:
        return trace_from(
            self.accounts,
            event_type="billing_record_updated",
            event_at="updated_at",
            ref_id="account_id",
            attributes=["update_source", "updated_by", "reviewed_by", "invoice_schedule", "first_invoice_date"],
        )


area = Area("billing", BillingRun)


@area.rule("billing.missing_bill_to", params=("invoice_within_days",), escalations=("urgent",))
def missing_bill_to(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    urgent = (pl.col("days_to_first_invoice") <= rule.param("invoice_within_days")) | (
        pl.col("first_invoice_date") < pl.col("kickoff_date")
    )
    rows = run.accounts.filter(pl.col("bill_to_contact").is_null()).with_columns(
        urgent.fill_null(False).alias("urgent"), pl.lit(["bill_to_contact"]).alias("missing_fields")
    )
    return findings_from(
        rule,
        rows,
        subject="account_id",
        evidence=["missing_fields", "first_invoice_date", "kickoff_date"],
        **escalation(rule, "urgent", "urgent"),
    )


@area.rule("billing.invalid_address")
def invalid_address(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.accounts.filter((pl.col("missing_address_parts").list.len() > 0) | ~pl.col("address_validated")),
        subject="account_id",
        evidence=["missing_address_parts", "address_validated", "country"],
    )


@area.rule("billing.tax_id_missing")
def tax_id_missing(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.accounts.filter(pl.col("tax_id_required") & pl.col("tax_id_status").is_in(["missing", "invalid"])),
        subject="account_id",
        evidence=["tax_id_required", "tax_id_status"],
    )


@area.rule("billing.po_missing")
def po_missing(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.accounts.filter(pl.col("po_required") & pl.col("po_number").is_null()),
        subject="account_id",
        evidence=["po_required"],
    )


@area.rule("billing.terms_conflict")
def terms_conflict(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    plan_conflict = (
        pl.col("plan").is_not_null() & pl.col("deal_package").is_not_null() & (_norm("plan") != _norm("deal_package"))
    )
    seat_conflict = (
        pl.col("seats").is_not_null() & pl.col("deal_seats").is_not_null() & (pl.col("seats") != pl.col("deal_seats"))
    )
    return findings_from(
        rule,
        run.accounts.filter(plan_conflict | seat_conflict).with_columns(
            pl.concat_list(pl.when(plan_conflict).then(pl.lit("plan")), pl.when(seat_conflict).then(pl.lit("seats")))
            .list.drop_nulls()
            .alias("conflicting_fields")
        ),
        subject="account_id",
        evidence=["conflicting_fields", "plan", "deal_package", "seats", "deal_seats"],
    )


@area.rule("billing.unreviewed_change", params=("unreviewed_sources",))
def unreviewed_change(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.accounts.filter(
            pl.col("update_source").is_in(list(rule.param("unreviewed_sources"))) & pl.col("reviewed_by").is_null()
        ),
        subject="account_id",
        since="updated_at",
        evidence=["update_source", "updated_at", "updated_by"],
    )


@area.rule("billing.blocks_invoice_or_launch", params=("within_days",))
def blocks_invoice_or_launch(run: BillingRun, rule: RuleConfig) -> pl.DataFrame:
    """Reads the findings of every billing rule above it."""
    within = rule.param("within_days")
    earlier = pl.concat(list(run.found.values()))
    open_rules = earlier.group_by("subject_key").agg(pl.col("rule_id").sort().alias("billing_findings"))
    blocking = run.accounts.join(open_rules, left_on="account_id", right_on="subject_key").filter(
        (pl.col("days_to_first_invoice") <= within) | (pl.col("days_to_launch") <= within)
    )
    return findings_from(
        rule,
        blocking,
        subject="account_id",
        evidence=["billing_findings", "first_invoice_date", "launch_target_at"],
    )


evaluate = area.evaluate
