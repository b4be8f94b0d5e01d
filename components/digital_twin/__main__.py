"""`python -m edgeloop.components.digital_twin`: the com.edgeloop.DigitalTwin component's Run step."""

import sys

from .component import main

sys.exit(main())
