"""`python -m edgeloop.components.ecg_prefilter`: the com.edgeloop.EcgPrefilter component's Run step."""

import sys

from .component import main

sys.exit(main())
