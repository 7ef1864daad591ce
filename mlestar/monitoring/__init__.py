"""The data a model sees, watched: schema, validation, drift, request logs, monitor reports.

schema.py       the run's data schema (RUN_DIR/schema.json), written when its data is prepared
validate.py     a table checked against the schema and shaped like the training data
drift.py        per-column drift: KS or chi-square for significance, PSI for size
request_log.py  opt-in logging of served rows in windows (no secrets, no free text by default)
live_metric.py  the task metric on newly labelled rows, with a bootstrap interval
monitor.py      `mlestar monitor`: the whole report, its verdict and exit status
html.py         the report's self-contained HTML page
command.py      the `monitor` command
"""
