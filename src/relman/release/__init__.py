"""The release pipeline: steps grouped by phase, wiring the libraries into the engine's DAG."""
