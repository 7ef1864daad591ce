import sys

if sys.dont_write_bytecode:
    # Under PYTHONDONTWRITEBYTECODE (set by some shells and containers) every pytest process would
    # rewrite the test modules' assertions and compile the project again: some 8 s of collection per
    # worker, on every run. The test processes cache them in __pycache__ as Python does by default
    # (ignored by git); the processes a test starts keep the variable.
    sys.dont_write_bytecode = False
