"""The daily hypercare scorecard: compiled from the audit store, archived, rendered and
emailed on the hypercare cadence. Entry points live in `hypercare.scorecard.build`."""
