from mlestar.cli import main
import sys

sys.exit(main())
