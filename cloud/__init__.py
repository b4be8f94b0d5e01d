"""The cloud side: ingest, data lake, pipelines, model registry and promotion (local by default, AWS where users grow)."""
