"""Prometheus metrics of the calls (`metrics`), the worker interceptor that records them
(`activity_metrics`), and the agent worker's capacity gauges (`agent_metrics`). The dashboard and
the alert rules that read them are in deploy/monitoring/."""
