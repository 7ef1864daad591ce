import gc
import sys

from mlestar.cli import main

code = main()
# The process ends here: freezing what is left spares the interpreter's exit a last collection
# over every object of the run (seconds of a loaded machine's time, and nothing to free).
gc.freeze()
sys.exit(code)
