"""Training on HDF5 sequences: data generator, per-sample and chunk loaders, LSTM, loop.

Importing this package imports no torch; `perfopt.train.sequences` needs only numpy
and h5py, and the torch modules (`loaders`, `model`, `loop`, `workload`) are imported
when used.
"""

from __future__ import annotations
