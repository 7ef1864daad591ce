"""The hand-over: what a finished search leaves to its user.

best_so_far.py  submission.csv kept at the search's best so far, written beside the scripts
final.py        the submission first (from stored predictions), then the final fit, model and solution.py
plan.py         what is handed over (zero-weight members left out), which refits fit the time
submission.py   prediction arrays -> the submission file, checked against the sample submission
predictor.py    the saved model of an ensemble of stored members
libraries.py    the ML libraries a pickled model names (its pip requirements), found without loading it
standalone.py   the standalone solution.py templates (single script, ensemble driver, fallback)
shipped.py      solution_parts/: the run's own submission and combining code, for solution.py
rows.py         which rows a member runs on in solution.py (the search's, for one kept stored)
"""
