"""The `hypercare` command line: the same functions the Airflow DAGs call."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from hypercare import db
from hypercare.secrets import guard_handlers


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _dates(args) -> list[dt.date]:
    if args.date:
        return [args.date]
    if not (args.date_from and args.date_to):
        raise SystemExit("give --date D, or --from D1 --to D2")
    if args.date_to < args.date_from:
        raise SystemExit("--to is before --from")
    return [args.date_from + dt.timedelta(days=i) for i in range((args.date_to - args.date_from).days + 1)]


def cmd_migrate(args) -> int:
    with db.connect(args.db) as conn:
        applied = db.migrate(conn)
    print(f"applied {', '.join(applied)}" if applied else "audit store is up to date")
    return 0


def cmd_load(args) -> int:
    from hypercare.loader import load_snapshot, snapshot_dates
    from hypercare.ruleset import load_ruleset

    dates = [args.date] if args.date else snapshot_dates(args.source)
    if not dates:
        raise SystemExit(f"no snapshot folders (YYYY-MM-DD) in {args.source}")
    if args.accept_drop and not args.date:
        raise SystemExit("--accept-drop applies to one snapshot: give --date too")
    ruleset = load_ruleset(args.rules)
    incomplete = []
    with db.connect(args.db, autocommit=True) as conn:
        db.migrate(conn)
        for day in dates:
            report = load_snapshot(
                conn, args.source, day, ruleset=ruleset, accept_drops=args.accept_drop or (), actor=args.actor
            )
            print(report.summary(), flush=True)
            if report.unusable:
                incomplete.append(day)
    if incomplete:
        print(
            f"incomplete snapshot(s) {', '.join(map(str, incomplete))}: the areas reading a rejected or held "
            "entity give no verdict for that day until it is fixed and reloaded",
            file=sys.stderr,
        )
        return 3
    return 0


def cmd_evaluate(args) -> int:
    from hypercare.evaluate import evaluate_day
    from hypercare.ruleset import load_ruleset

    ruleset = load_ruleset(args.rules)
    without_verdict = 0
    with db.connect(args.db, autocommit=True) as conn:
        db.migrate(conn)
        for day in _dates(args):
            for summary in evaluate_day(conn, day, ruleset, areas=args.area, actor=args.actor):
                print(summary.line(), flush=True)
                without_verdict += summary.no_verdict is not None
        head = conn.execute(
            "select entries, head_hash from hypercare.audit_checkpoints order by checkpoint_id desc limit 1"
        ).fetchone()
    if head:
        print(f"audit log head: {head[0]} entries, hash {head[1]}")
    if without_verdict:
        print(f"{without_verdict} area run(s) gave no verdict: an input was rejected or held", file=sys.stderr)
        return 3
    return 0


def cmd_generate(args) -> int:
    from hypercare.ruleset import load_ruleset
    from hypercare.synth import DEMO_RESPONSE, generate

    report = generate(
        args.out,
        start=args.start,
        days=args.days,
        customers=args.customers,
        seed=args.seed,
        ruleset=load_ruleset(args.rules),
        fmt=args.format,
        last_days=args.last_days or (1 if args.only_last else None),
        response=DEMO_RESPONSE if args.team else None,
    )
    print(report.summary())
    return 0


def cmd_demo(args) -> int:
    from hypercare.demo import run_demo

    return run_demo(
        db_url=args.db,
        start=args.start,
        days=args.days,
        customers=args.customers,
        seed=args.seed,
        workdir=args.workdir,
    )


def cmd_audit_verify(args) -> int:
    from hypercare.store import verify_audit

    with db.connect(args.db) as conn:
        db.migrate(conn)
        ok, message = verify_audit(conn, head=args.head)
    print(message)
    return 0 if ok else 1


def cmd_audit_checkpoint(args) -> int:
    from hypercare.store import record_checkpoint

    with db.connect(args.db) as conn:
        db.migrate(conn)
        with conn.transaction():
            head = record_checkpoint(conn, "cli")
    print(f"{head.line()} (publish it: hypercare audit verify --head {head.token()})")
    return 0 if head.consistent else 1


def _head(text: str) -> tuple[int, str]:
    entries, _, head_hash = text.partition(":")
    if not (entries.isdigit() and len(head_hash) == 64):
        raise argparse.ArgumentTypeError(f"not an audit head (ENTRIES:SHA256): {text!r}")
    return int(entries), head_hash


def cmd_db_roles(args) -> int:
    import os

    from hypercare.roles import Roles, setup_roles, url_for

    roles = Roles(
        owner=args.owner or f"{args.prefix}_owner",
        writer=args.writer or f"{args.prefix}_writer",
        reader=args.reader or f"{args.prefix}_reader",
    )
    passwords = {kind: os.environ.get(f"HYPERCARE_{kind.upper()}_PASSWORD") for kind, _ in roles.items()}
    url = db.resolve_url(args.db)
    with db.connect(url) as conn:
        db.migrate(conn)
        outcome = setup_roles(conn, roles, passwords)
    print(f"roles ready (created: {', '.join(outcome['created']) or 'none'}); schema hypercare owned by {roles.owner}")
    for kind, name in roles.items():
        print(f"  {kind:<6} {url_for(url, name, '***' if passwords.get(kind) else None)}")
    return 0


def cmd_rules_diff(args) -> int:
    from hypercare.ruleset import SCOPES, load_ruleset, scoped_content

    ruleset = load_ruleset(args.rules)
    with db.connect(args.db) as conn:
        db.migrate(conn)
        row = conn.execute(
            "select version, content, covers from hypercare.rule_sets where version = coalesce(%s, ("
            "  select rule_version from hypercare.evaluation_runs order by as_of desc, evaluated_at desc limit 1))",
            (args.against,),
        ).fetchone()
        others = {scope: _version_in_use(conn, scope) for scope in SCOPES if scope != "rules"}
    if row is None:
        print(f"rules file version {ruleset.version}; no stored rule set to compare with")
        return 0
    version, stored, covers = row
    if covers == "whole_file":
        stored = scoped_content(stored, "rules")
    changes = _diff(stored, _plain(ruleset.scoped_content("rules")))
    print(f"stored {version} -> file {ruleset.version}: {len(changes)} change(s)")
    for line in changes:
        print(f"  {line}")
    if changes:
        print("  these change findings: preview with `hypercare rules impact`, then backfill with `hypercare evaluate`")
    for scope, stored_scope in others.items():
        if stored_scope is None:
            continue
        scope_changes = _diff(stored_scope[1], _plain(ruleset.scoped_content(scope)))
        if scope_changes:
            print(
                f"{scope}: stored {stored_scope[0]} -> file {ruleset.versions[scope]}: {len(scope_changes)} change(s)"
                " (findings keep their rule-set version)"
            )
            for line in scope_changes:
                print(f"  {line}")
    return 0


def cmd_rules_impact(args) -> int:
    from hypercare.impact import preview_window
    from hypercare.ruleset import load_ruleset

    proposed = load_ruleset(args.rules)
    with db.connect(args.db, autocommit=True) as conn:
        db.migrate(conn)
        report = preview_window(conn, proposed, args.date_from, args.date_to, actor=args.actor)
    print(report.table())
    if args.out:
        for path in report.write(args.out):
            print(f"wrote {path}")
    return 0


# The version of a scope last put to use: on the newest notification, the newest scorecard.
_IN_USE = {
    "alerting": "select routing_version from hypercare.alert_outbox where routing_version is not null "
    "order by created_at desc limit 1",
    "scorecard": "select config_version from hypercare.scorecards where config_version is not null "
    "order by compiled_at desc limit 1",
}


def _version_in_use(conn, scope: str) -> tuple[str, dict] | None:
    """(version, content) of `scope` last used, else last registered; None when none is stored."""
    used = conn.execute(_IN_USE[scope]).fetchone() if scope in _IN_USE else None
    return conn.execute(
        "select version, content from hypercare.config_versions where scope = %s "
        "order by version = %s desc, registered_at desc limit 1",
        (scope, used[0] if used else None),
    ).fetchone()


def _plain(content: dict) -> dict:
    """Content as stored in the audit store (JSON types)."""
    return json.loads(json.dumps(content, default=str))


def cmd_scorecard(args) -> int:
    import os

    from hypercare.ruleset import load_ruleset
    from hypercare.scorecard.build import compile_and_archive, send_scorecard
    from hypercare.scorecard.mail import smtp_settings_from_url

    ruleset = load_ruleset(args.rules)
    with db.connect(args.db) as conn:
        db.migrate(conn)
        scorecard = compile_and_archive(conn, args.date, ruleset)
        print(f"{scorecard.data['cadence_line']}; archived: {scorecard.subject}")
        if args.out:
            print(f"wrote {scorecard.write_html(args.out)}")
        if not args.send:
            return 0
        if not (scorecard.send_day or args.force):
            print("not a send day of the hypercare cadence: not sent (--force sends anyway)")
            return 0
        smtp_url = os.environ.get("HYPERCARE_SMTP_URL")
        if not smtp_url:
            raise SystemExit("--send needs HYPERCARE_SMTP_URL, e.g. smtp://127.0.0.1:1025")
        accepted = send_scorecard(conn, scorecard, smtp_settings_from_url(smtp_url))
    print(f"sent to {', '.join(accepted)}")
    return 0


def cmd_alerts_dispatch(args) -> int:
    from hypercare.alerts.channels import senders_from_settings
    from hypercare.alerts.dispatch import dispatch
    from hypercare.ruleset import load_ruleset

    senders = senders_from_settings(
        slack_webhook=args.slack_webhook,
        slack_api_url=args.slack_api_url,
        slack_token=args.slack_token,
        smtp_url=args.smtp,
        capture_dir=args.capture or db.hypercare_home() / "alert-capture",
    )
    with db.connect(args.db) as conn:
        db.migrate(conn)
        report = dispatch(conn, load_ruleset(args.rules), senders)
    print(report.summary())
    return 1 if report.failures else 0


def cmd_alerts_ack(args) -> int:
    from hypercare.alerts.actions import acknowledge

    with db.connect(args.db) as conn:
        episode = acknowledge(conn, args.finding_id, by=args.by, note=args.note)
    print(f"acknowledged {args.finding_id} (episode opened {episode}); repeats and escalations stop")
    return 0


def cmd_alerts_silence(args) -> int:
    from hypercare.alerts.actions import silence

    ends_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=args.hours)
    with db.connect(args.db) as conn:
        silence_id = silence(
            conn,
            author=args.author,
            reason=args.reason,
            ends_at=ends_at,
            rule_id=args.rule,
            subject_key=args.subject,
            owner_role=args.role,
        )
    print(f"silence {silence_id} until {ends_at:%Y-%m-%d %H:%M} UTC")
    return 0


def _diff(old, new, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            if key not in new:
                lines.append(f"- {sub}")
            elif key not in old:
                lines.append(f"+ {sub} = {json.dumps(new[key])}")
            else:
                lines.extend(_diff(old[key], new[key], sub))
        return lines
    return [] if old == new else [f"~ {path}: {json.dumps(old)} -> {json.dumps(new)}"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hypercare", description=__doc__)
    parser.add_argument("--db", help="PostgreSQL URL (default: HYPERCARE_DB_URL, else the embedded server)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    db_parser = sub.add_parser("db", help="audit store administration")
    db_sub = db_parser.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    p = db_sub.add_parser("roles", help="create the owner, writer and reader roles and grant them (idempotent)")
    p.add_argument("--prefix", default="hypercare", help="role names <prefix>_owner, _writer, _reader")
    p.add_argument("--owner", help="owner role name (overrides the prefix)")
    p.add_argument("--writer", help="writer role name (overrides the prefix)")
    p.add_argument("--reader", help="reader role name (overrides the prefix)")
    p.set_defaults(func=cmd_db_roles)

    p = sub.add_parser("load", help="load snapshot folders into landing")
    p.add_argument("--source", type=Path, required=True)
    p.add_argument("--date", type=_date, help="one snapshot date (default: every folder in --source)")
    p.add_argument(
        "--accept-drop",
        action="append",
        metavar="ENTITY",
        help="accept a volume drop of ENTITY on --date as real (audited; repeatable)",
    )
    p.add_argument("--rules", type=Path, help="rules configuration (default include/rules.yaml)")
    p.add_argument("--actor", default="cli", help="who runs it, for the audit log")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("evaluate", help="evaluate monitoring areas for a date or a range")
    p.add_argument("--date", type=_date)
    p.add_argument("--from", dest="date_from", type=_date)
    p.add_argument("--to", dest="date_to", type=_date)
    p.add_argument("--area", action="append", help="area to evaluate (repeatable; default all)")
    p.add_argument("--rules", type=Path, help="rules configuration (default include/rules.yaml)")
    p.add_argument("--actor", default="cli", help="who runs it, for the audit log")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("generate", help="write a synthetic hypercare month and its ground truth")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--start", type=_date, required=True)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--only-last", action="store_true", help="write only the final day's snapshot")
    p.add_argument("--last-days", type=int, help="write only the final N days' snapshots")
    p.add_argument("--team", action="store_true", help="the team answers the reviews, as in the demo month")
    p.add_argument("--rules", type=Path)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("demo", help="generate, load and evaluate a hypercare month end to end")
    p.add_argument("--start", type=_date, default=dt.date(2026, 11, 2))
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workdir", type=Path, help="where the generated source goes (default .hypercare/demo)")
    p.set_defaults(func=cmd_demo)

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    p = audit_sub.add_parser("verify", help="check the audit log's hash chain against its checkpoints")
    p.add_argument("--head", type=_head, help="a published head ENTRIES:SHA256 to check against as well")
    p.set_defaults(func=cmd_audit_verify)
    p = audit_sub.add_parser("checkpoint", help="record and print the audit log's head")
    p.set_defaults(func=cmd_audit_checkpoint)

    alerts = sub.add_parser("alerts", help="alert delivery, acknowledgements and silences")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    p = alerts_sub.add_parser("dispatch", help="send due notifications from the outbox")
    p.add_argument("--slack-webhook", help="incoming webhook URL (or HYPERCARE_SLACK_WEBHOOK_URL)")
    p.add_argument("--slack-token", help="Web API token (or HYPERCARE_SLACK_TOKEN)")
    p.add_argument("--slack-api-url", help="Web API base URL (or HYPERCARE_SLACK_API_URL)")
    p.add_argument("--smtp", help="smtp://user:pass@host:port?from=addr (or HYPERCARE_SMTP_URL)")
    p.add_argument("--capture", type=Path, help="write unconfigured channels here (default .hypercare/alert-capture)")
    p.add_argument("--rules", type=Path)
    p.set_defaults(func=cmd_alerts_dispatch)
    p = alerts_sub.add_parser("ack", help="acknowledge a finding's current alert episode")
    p.add_argument("finding_id")
    p.add_argument("--by", required=True)
    p.add_argument("--note")
    p.set_defaults(func=cmd_alerts_ack)
    p = alerts_sub.add_parser("silence", help="hold back matching alerts for a while")
    p.add_argument("--rule")
    p.add_argument("--subject")
    p.add_argument("--role")
    p.add_argument("--hours", type=float, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--author", required=True)
    p.set_defaults(func=cmd_alerts_silence)

    p = sub.add_parser("scorecard", help="compile and archive a day's scorecard; write or email it")
    p.add_argument("--date", type=_date, required=True)
    p.add_argument("--out", type=Path, help="write the standalone HTML here")
    p.add_argument("--send", action="store_true", help="email it on send days (SMTP from HYPERCARE_SMTP_URL)")
    p.add_argument("--force", action="store_true", help="with --send: send even off the hypercare cadence")
    p.add_argument("--rules", type=Path)
    p.set_defaults(func=cmd_scorecard)

    rules = sub.add_parser("rules", help="the rules configuration")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    p = rules_sub.add_parser("diff", help="compare the rules file with a stored rule set")
    p.add_argument("--rules", type=Path)
    p.add_argument("--against", help="stored version (default: the one of the latest run)")
    p.set_defaults(func=cmd_rules_diff)
    p = rules_sub.add_parser(
        "impact", help="preview what a rules file would change over a window of days (nothing is written)"
    )
    p.add_argument("--rules", type=Path, required=True, help="the proposed rules configuration")
    p.add_argument("--from", dest="date_from", type=_date, help="first day (default: the first evaluated day)")
    p.add_argument("--to", dest="date_to", type=_date, help="last day (default: the last evaluated day)")
    p.add_argument("--out", type=Path, help="write impact.json, impact_rules.csv and impact_customers.csv here")
    p.add_argument("--actor", default="cli:impact-preview", help="who runs it (recorded only in rolled-back rows)")
    p.set_defaults(func=cmd_rules_impact)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    guard_handlers()
    try:
        return args.func(args)
    except (LookupError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
