"""Hypercare inside the Airflow UI: findings, journeys, scorecards, runs and alert actions.

`ui_plugin` registers the FastAPI app of `ui_app` with the API server under /hypercare and
adds a "Hypercare" entry to the Airflow navigation.
"""
