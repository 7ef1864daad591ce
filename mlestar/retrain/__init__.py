"""Retraining a run on new data, and promoting the new model only when it is better.

warm.py     the old run's best scripts, tried first by the new search
holdout.py  the new data split: rows for the new run's task, and a holdout neither model sees
compare.py  champion vs challenger on the holdout: a paired bootstrap test of the metric
command.py  `mlestar retrain RUN_DIR --data NEW_TRAIN`: the whole flow, every decision journaled
"""
