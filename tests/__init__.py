"""edgeloop's tests, a package so that test modules import their kits as `tests.kits.<kit>`.

One OpenMP thread per process, set here because this runs before any test module or conftest loads
XGBoost (libgomp reads the variable once, when it loads): pytest-xdist already runs several
processes per core, and OpenMP teams of two threads in every worker spin-wait on each other (on 2
cores the suite took 4m34s with them and 2m56s without). Subprocesses (cores, CLIs, the demo)
inherit it.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
