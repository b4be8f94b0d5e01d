"""Greengrass components that run on gateways. Each folder is one component; its recipe lives in recipes/."""
