"""Prometheus metrics, one registry per app (so tests can build several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.clicks = Counter("linkguard_clicks", "Clicks on sealed links by verdict and kind",
                              ["verdict", "kind"], registry=self.registry)
        self.verdict_seconds = Histogram(
            "linkguard_verdict_seconds", "Time to reach a verdict (click path and API)",
            ["path"], registry=self.registry,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                     0.25, 0.5, 1.0, 2.5))
        self.token_errors = Counter("linkguard_token_errors", "Links that did not open",
                                    ["code"], registry=self.registry)
        self.queue_drops = Counter("linkguard_click_log_dropped",
                                   "Click-log entries dropped because the queue was full",
                                   registry=self.registry)
        self.log_written = Counter("linkguard_click_log_written",
                                   "Click-log entries written to the store",
                                   registry=self.registry)
        self.rate_limited = Counter("linkguard_rate_limited", "Requests answered 429",
                                    ["route"], registry=self.registry)
        # Children used on every click, looked up once (labels() takes a lock and a dict).
        self.click_seconds = self.verdict_seconds.labels("click")
        self._click_children: dict[tuple[str, str], Counter] = {}
        self.api_verdicts = Counter("linkguard_api_verdicts", "Verdicts given by the API",
                                    ["verdict"], registry=self.registry)
        self.access_requests = Counter(
            "linkguard_access_requests", "Access requests for blocked links: requested, "
            "approved, denied, and clicks let through on an approval", ["event"],
            registry=self.registry)

    def click(self, verdict: str, kind: str) -> None:
        child = self._click_children.get((verdict, kind))
        if child is None:
            child = self._click_children[(verdict, kind)] = self.clicks.labels(verdict, kind)
        child.inc()
