"""Synthetic hypercare months with a ground-truth oracle.

`generate` writes daily snapshot folders in the source contract's shape from a hidden
per-customer timeline with injected faults and contract-breaking rows, plus
`ground_truth.csv`: every finding a correct monitor reports on those files. Tests and
demos compare the monitor's findings with it.
"""

from hypercare.synth.generator import TRUTH_FILE, GenerateReport, build_world, generate
from hypercare.synth.response import DEMO_RESPONSE

__all__ = ["DEMO_RESPONSE", "TRUTH_FILE", "GenerateReport", "build_world", "generate"]
