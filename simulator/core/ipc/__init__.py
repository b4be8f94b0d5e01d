"""ipc: the Greengrass IPC API of the local core, as the awsiotsdk client speaks it.

  wire       event-stream framing (encode, incremental decode, typed FrameError)
  server     the Unix-socket RPC server: handshake, streams, errors, back-pressure
  authz      accessControl policies -> allow/deny per component, operation and resource
  services/  one module per IPC service; services.OPERATIONS is the dispatch table
  core_api   the narrow protocols the services use to reach the rest of the core
"""
