"""edgeloop's local Greengrass core device: runs unmodified Greengrass v2 components on one machine.

Module map (one concern each, after Greengrass Lite's daemons):
  paths        the on-disk layout under --root
  recipes/     recipe parsing, schema validation, platform selection, variables, dependency resolution, artifacts
  pubsub       the local publish/subscribe bus
  config_store component configuration (one owner), update events
  lifecycle/   component processes and their state machine
  deployment/  the deployment queue, handler, rollback and the record of outcomes
  ipc/         the Greengrass IPC wire protocol, authorization, one module per IPC service
  mqtt/        embedded broker for client devices, the MQTT bridge, the IoT Core link
  nucleus      wires the above together and owns the event loop
"""
