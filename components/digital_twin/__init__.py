"""The compressed-air plant digital twin (com.edgeloop.DigitalTwin): learned power models and the
Monte Carlo configuration search.

Module map (one job each):
  configurations  configuration names, their canonical order, boundaries files
  telemetry       the training CSV: parsing and validation (row and column named on error; the per-field
                  rules are the plant telemetry contract, edgeloop.contracts.plant)
  model           PowerModel, the XGBoost power estimator; its verified artifact directory
  lookup          exact piecewise-constant lookup tables read from the boosters' split thresholds
  ubjson          minimal reader of XGBoost's UBJ model format (for the split thresholds)
  optimizer       seeded, vectorised Monte Carlo ranking of configurations (the reference's semantics)
  loop_optimizer  the reference-style per-trial loop, the executable specification of the ranking
  request         the Lambda-style request event: parsing (RequestError and the request envelope and
                  topics are the twin contract, edgeloop.contracts.twin)
  handler         lambda_handler(event, context)
  component       the Greengrass component: TwinService (requests, telemetry, model swaps) and its IPC
                  wiring; `python -m edgeloop.components.digital_twin` runs it (__main__)
  packaging       builds com.edgeloop.TwinModel and com.edgeloop.DigitalTwin (recipes, artifacts, GDK build)
"""
