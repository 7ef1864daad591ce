"""The hand-over: what a finished search leaves to its user.

final.py       the submission first (from stored predictions), then the final fit, model and solution.py
submission.py  prediction arrays -> the submission file, checked against the sample submission
predictor.py   the saved model of an ensemble of stored members
standalone.py  the standalone solution.py templates (single script, ensemble driver, fallback)
rows.py        which rows a member runs on in solution.py (the search's, for one kept stored)
"""
