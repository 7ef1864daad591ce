"""Script-side code for per-row files: real, importable modules whose functions the built-in
engineer copies into a script's files block (see media/source.py). Standalone by design: no
module here imports mlestar (but mlestar/task/documents.py, the BSON decoder intake
shares, which scripts carry as well), so a script that carries them runs anywhere."""
