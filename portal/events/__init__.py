"""The event pipeline: ingestion, the processor (lease, claiming, actions), scheduled triggers."""
