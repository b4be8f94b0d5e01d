"""edgeloop: edge-first AWS IoT Greengrass v2 components and the loop that keeps their models improving.

The package root holds the machinery every part shares; the parts themselves live in the top-level
folders `components/`, `simulator/` and `cloud/`, installed as `edgeloop.components`,
`edgeloop.simulator` and `edgeloop.cloud`.
"""

__version__ = "0.1.0"
