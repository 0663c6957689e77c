"""The one door to the Kubernetes API: clients, pagination, retries, watch-under-deadline."""
