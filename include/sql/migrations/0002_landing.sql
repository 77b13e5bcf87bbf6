-- Landing tables: one per contract entity, partitioned by snapshot date.
-- Columns mirror include/schemas/contract.yaml; unknown source columns go to _extra.

create table hypercare.landing_deals (
    snapshot_date date not null,
    opportunity_id text not null,
    account_id text not null,
    account_name text,
    segment text not null,
    strategic boolean not null,
    arr numeric not null,
    sales_owner text not null,
    sales_team text,
    stage text not null,
    closed_won_at timestamptz,
    contract_state text not null,
    contract_signed_at timestamptz,
    payment_condition text not null,
    payment_received_at timestamptz,
    excluded_reason text,
    package text,
    seats bigint,
    modules text[],
    contracted_services text[],
    promised_go_live date,
    non_standard_terms boolean,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, opportunity_id)
) partition by list (snapshot_date);

create table hypercare.landing_onboarding_projects (
    snapshot_date date not null,
    project_id text not null,
    onboarding_id text not null,
    opportunity_id text,
    account_id text not null,
    created_at timestamptz not null,
    created_by text not null,
    template text,
    status text not null,
    paused_reason text,
    paused_at timestamptz,
    handoff_submitted_at timestamptz,
    handoff_accepted_at timestamptz,
    handoff_rejected_at timestamptz,
    onboarding_owner text,
    owner_assigned_at timestamptz,
    csm_owner text,
    technical_owner text,
    finance_owner text,
    kickoff_task_created_at timestamptz,
    kickoff_scheduled_at timestamptz,
    kickoff_scheduled_for timestamptz,
    kickoff_completed_at timestamptz,
    kickoff_no_shows bigint,
    kickoff_reschedules bigint,
    package text,
    scope text[],
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, project_id)
) partition by list (snapshot_date);

create table hypercare.landing_handoff_fields (
    snapshot_date date not null,
    onboarding_id text not null,
    field text not null,
    filled_at timestamptz,
    filled_by text,
    corrected_at timestamptz,
    corrected_by text,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, onboarding_id, field)
) partition by list (snapshot_date);

create table hypercare.landing_billing_accounts (
    snapshot_date date not null,
    account_id text not null,
    billing_entity text,
    bill_to_contact text,
    address_line1 text,
    city text,
    postal_code text,
    country text,
    address_validated boolean,
    tax_id_required boolean not null,
    tax_id_status text not null,
    po_required boolean not null,
    po_number text,
    invoice_schedule text,
    first_invoice_date date,
    payment_terms text,
    contract_start_date date,
    plan text,
    seats bigint,
    updated_at timestamptz not null,
    updated_by text,
    update_source text,
    reviewed_by text,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, account_id)
) partition by list (snapshot_date);

create table hypercare.landing_provisioning_items (
    snapshot_date date not null,
    item_id text not null,
    onboarding_id text not null,
    item_type text not null,
    target_system text not null,
    expected_value text,
    configured_value text,
    status text not null,
    internal_owner text,
    customer_owner text,
    attempts bigint,
    last_error text,
    manual_override boolean,
    override_approved_by text,
    created_at timestamptz not null,
    due_at timestamptz,
    completed_at timestamptz,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, item_id)
) partition by list (snapshot_date);

create table hypercare.landing_customer_tasks (
    snapshot_date date not null,
    task_id text not null,
    onboarding_id text not null,
    task_type text not null,
    customer_owner text,
    internal_owner text,
    created_at timestamptz not null,
    due_at timestamptz,
    completed_at timestamptz,
    reminders_sent bigint,
    last_customer_response_at timestamptz,
    blocks_first_value boolean not null,
    reason_code text,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, task_id)
) partition by list (snapshot_date);

create table hypercare.landing_milestones (
    snapshot_date date not null,
    onboarding_id text not null,
    milestone text not null,
    target_at timestamptz,
    completed_at timestamptz,
    owner text,
    evidence text,
    reason_code text,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, onboarding_id, milestone)
) partition by list (snapshot_date);

create table hypercare.landing_ai_suggestions (
    snapshot_date date not null,
    suggestion_id text not null,
    onboarding_id text not null,
    kind text not null,
    field text,
    suggested_value text,
    confidence numeric not null,
    evidence_count bigint not null,
    material_commitment boolean not null,
    model text not null,
    prompt_version text not null,
    created_at timestamptz not null,
    routing text not null,
    review_decision text not null,
    reviewer text,
    reviewed_at timestamptz,
    corrected_value text,
    rejection_reason text,
    customer_facing boolean not null,
    sent_at timestamptz,
    approved_by text,
    sensitive_data boolean not null,
    access_scope text,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, suggestion_id)
) partition by list (snapshot_date);

create table hypercare.landing_writebacks (
    snapshot_date date not null,
    writeback_id text not null,
    onboarding_id text not null,
    target_system text not null,
    record_id text,
    fields_changed text[],
    status text not null,
    attempts bigint not null,
    error text,
    idempotency_key text,
    actor text not null,
    requested_at timestamptz not null,
    completed_at timestamptz,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, writeback_id)
) partition by list (snapshot_date);

create table hypercare.landing_system_records (
    snapshot_date date not null,
    onboarding_id text not null,
    system text not null,
    field text not null,
    value text,
    observed_at timestamptz not null,
    _source_row integer not null,
    _extra jsonb,
    primary key (snapshot_date, onboarding_id, system, field)
) partition by list (snapshot_date);

-- Lookups by journey within one snapshot.
create index landing_onboarding_projects_onboarding_idx on hypercare.landing_onboarding_projects (snapshot_date, onboarding_id);
create index landing_onboarding_projects_opportunity_idx on hypercare.landing_onboarding_projects (snapshot_date, opportunity_id);
