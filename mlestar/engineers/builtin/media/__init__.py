"""Per-row files as model inputs for the built-in engineer: pictures, sounds, numeric files and
per-pixel pictures.

kit/       the script-side code (standard Python modules, tested as they are, copied into scripts)
source.py  picks the kit definitions a block needs, with their imports
options.py MediaOptions: what the files block extracts (sizes, feature groups, PCA, windows)
render.py  the files block for a task's per-row files
probe.py   a look at a few of the task's files (picture sizes, clip lengths) for the defaults
"""
