"""Serving a finished run's model: its answers mapped to the submission's columns.

answer.py        a predictor's predictions -> the submission's prediction columns (no mlflow)
pyfunc_model.py  the MLflow pyfunc wrapper around answer.py (imports mlflow)
"""
