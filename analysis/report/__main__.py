"""``python -m analysis.report EXPERIMENT_DIR``."""

import sys

from analysis.report.cli import main

sys.exit(main())
