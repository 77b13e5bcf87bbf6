"""Airflow glue for the Hypercare DAGs: settings, dates, the audit store, sensors and notifications.

Airflow puts `plugins/` on the import path of every component (DAG processor, scheduler,
workers, triggerer), so the DAG files and the triggerer import `hypercare_airflow.*`.
Modules here import only Airflow and the standard library at the top: DAG parsing stays
fast, and the `hypercare` package loads inside tasks and triggers.
"""
