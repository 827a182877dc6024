"""Webhook delivery: Standard Webhooks signing, the HTTP transport, fair slots and the pump.

``pump.Pump`` runs on its own thread and event loop (started by :mod:`portal.events.runner`),
so event batches and scheduled triggers never wait for a webhook call.
"""
