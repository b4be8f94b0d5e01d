"""Stand-ins for hardware: the local Greengrass core device and the client devices that talk to it."""
