"""Serving a finished run's model.

answer.py        a predictor's predictions -> the submission's prediction columns (no mlflow)
pyfunc_model.py  the MLflow pyfunc wrapper around answer.py (imports mlflow)
loaded.py        ServedModel: predictor, task, schema and facts, from a run folder
payload.py       a /predict body (JSON records or CSV) -> a table, or a 4xx that says why
server.py        the FastAPI app: /predict /health /metadata /metrics; uvicorn
telemetry.py     the Prometheus text of /metrics (requests, errors, latency, drift gauges)
registry.py      MLflow registry aliases (champion, challenger) and loading a version
follow.py        serving the version an alias names, swapped in when the alias moves
commands.py      the serve, predict and validate commands
"""
