"""The MLE-STAR search: retrieve, draft, merge, check, refine, ensemble, submit."""
