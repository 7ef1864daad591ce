"""Script-side code for per-row files: real, importable modules whose functions the built-in
engineer copies into a script's files block (see media/source.py). Standalone by design: no
module here imports mlestar, so a script that carries them runs anywhere."""
