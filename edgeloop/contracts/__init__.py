"""Wire contracts: one module per message family, shared by the components, the cloud and the simulators.

  errors.py  ContractError(field, problem, reason), the base of every family's error; json_object
  topics.py  topic templates -> subscription filters and back to their variable levels
  plant.py   plant telemetry, the twin's recommendation and live error (and the per-field rules)
  twin.py    twin request and response
  ecg.py     wearable chunks; the pre-filter's window, alert, summary and error messages

Each module holds a family's topic templates and filters (each topic written once), typed frozen
dataclasses, a parser that names the bad field and an encoder. This package imports only the
standard library, numpy and orjson, so devices, gateways and the cloud can all depend on it.
"""
