"""Airflow glue shared by the Hypercare DAGs: assets, defaults, connection and date lookup."""
