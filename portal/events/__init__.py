"""The event pipeline: ingestion, the processor (lease, claiming, actions) and scheduled triggers."""
