"""A Python parent that runs a CPU-busy bash loop and waits (truth: cpu-native)."""

import subprocess
import sys

seconds = float(sys.argv[1])
# bash's $EPOCHREALTIME (bash 5): spin for a wall-clock time, checking the clock
# every 2000 iterations
loop = (
    f"end=$(( ${{EPOCHREALTIME/./}} + {int(seconds * 1e6)} )); i=0; "
    "while (( ${EPOCHREALTIME/./} < end )); do for ((j=0; j<2000; j++)); do i=$((i+1)); done; done"
)
subprocess.run(["bash", "-c", loop], check=True)
