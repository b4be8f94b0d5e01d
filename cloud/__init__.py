"""The cloud side: ingest, data lake, pipelines, model registry and promotion (local by default, AWS where users grow).

Module map:
  home          the local cloud's folder (--home, EDGELOOP_HOME, ~/.edgeloop) and its layout
  lake          validated telemetry appended to CSV partitions dataset/plant/date; rejects file
  ingest        TelemetryIngest: paho-mqtt subscriber at the cloud broker -> lake
  experiments   SQLite record of every pipeline run (parameters, metrics, artifacts, lineage, steps)
  pipeline      the twin pipeline: preprocess -> train -> simulate -> evaluate -> register
  registry/     model registry with SageMaker Model Registry semantics (local SQLite, SageMaker)
  promotion     approval -> gate -> TwinModel component version -> deployment to a core; rollback
  cli           `edgeloop cloud` (ingest); pipeline_cli `edgeloop pipeline`; registry/cli `edgeloop registry`
  twin/         training, evaluation and the offline grid of the compressed-air twin
"""
