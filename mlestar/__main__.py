import sys

from mlestar.cli import main

sys.exit(main())
