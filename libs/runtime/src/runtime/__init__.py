"""Shared glue of the Agent Studio services, written once: settings, NATS, delivery, observability."""
