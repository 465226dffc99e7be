"""A preload module that starts a Python thread at import (forking after it is unsafe)."""

from __future__ import annotations

import threading
import time

threading.Thread(target=time.sleep, args=(3600,), daemon=True, name="toy-import-thread").start()
