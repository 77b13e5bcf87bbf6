"""Hypercare: monitors customer-onboarding automation after go-live.

The package knows nothing of Airflow: every entry point is a plain function over
dataframes and a database connection, given an as-of date and a rule set.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INCLUDE_DIR = PROJECT_ROOT / "include"

__all__ = ["INCLUDE_DIR", "PROJECT_ROOT"]
