"""Half and half: busy Python for SECONDS, then asleep for as long (truth: mixed)."""

import sys
import time

from busy import busy

seconds = float(sys.argv[1])
busy(seconds)
time.sleep(seconds)
