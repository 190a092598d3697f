"""The server's /metrics as the benchmarks read it: parsed samples, and what grew between two
scrapes (counters, the media workers' thread CPU, their event loops' largest delay)."""

from __future__ import annotations

import re
from collections import defaultdict

Metrics = dict[str, list[tuple[dict[str, str], float]]]

_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+([-+\w.eE]+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> Metrics:
    """Parse Prometheus text exposition into {name: [(labels, value)]}."""
    out: Metrics = defaultdict(list)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match.group(2) or ""))
            try:
                out[match.group(1)].append((labels, float(match.group(3))))
            except ValueError:
                continue
    return out


def metric_sum(metrics: Metrics, name: str, **match: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``match``."""
    return sum(
        value
        for labels, value in metrics.get(name, [])
        if all(labels.get(k) == v for k, v in match.items())
    )


def metric_delta(first: Metrics, last: Metrics, name: str, **match: str) -> float:
    """How much the samples of ``name`` whose labels include ``match`` grew between scrapes."""
    return metric_sum(last, name, **match) - metric_sum(first, name, **match)


def thread_cpu_pct(first: Metrics, last: Metrics, seconds: float) -> dict[tuple[int, str], float]:
    """% of one core each media worker's thread roles took between two scrapes `seconds`
    apart, by (worker, role) (``roomserver_thread_cpu_seconds_total``)."""
    name = "roomserver_thread_cpu_seconds_total"
    before = {(ls["worker"], ls["thread"]): v for ls, v in first.get(name, [])}
    return {
        (int(ls["worker"]), ls["thread"]): (v - before.get((ls["worker"], ls["thread"]), 0.0))
        * 100.0
        / seconds
        for ls, v in last.get(name, [])
    }


def largest_loop_delay(first: Metrics, last: Metrics) -> dict[int, float]:
    """Per media worker, an upper bound of its event loop's largest delay between two scrapes:
    the smallest bucket of its delay histogram that holds every sample taken in between."""
    name = "roomserver_worker_event_loop_delay_seconds_bucket"

    def buckets(metrics: Metrics) -> dict[tuple[int, float], float]:
        return {(int(ls["worker"]), float(ls["le"])): v for ls, v in metrics.get(name, [])}

    before, after = buckets(first), buckets(last)
    grown = {key: count - before.get(key, 0.0) for key, count in after.items()}
    largest: dict[int, float] = {}
    for worker in {w for w, _ in grown}:
        bounds = sorted(le for w, le in grown if w == worker)
        samples = grown[(worker, bounds[-1])]  # the +Inf bucket: every sample
        largest[worker] = next(le for le in bounds if grown[(worker, le)] >= samples)
    return largest


def histogram_window(
    first: Metrics, last: Metrics, name: str, label: str
) -> dict[str, tuple[float, float, float]]:
    """By the value of `label`: how many samples histogram `name` took between two scrapes,
    their mean, and an upper bound of their 95th percentile (the smallest bucket bound that
    holds 95 % of them)."""

    def read(metrics: Metrics, suffix: str) -> dict[tuple[str, str], float]:
        summed: dict[tuple[str, str], float] = defaultdict(float)  # over the other labels
        for ls, v in metrics.get(name + suffix, []):
            summed[(ls.get(label, ""), ls.get("le", ""))] += v
        return summed

    out: dict[str, tuple[float, float, float]] = {}
    count0, count1 = read(first, "_count"), read(last, "_count")
    sum0, sum1 = read(first, "_sum"), read(last, "_sum")
    buckets0, buckets1 = read(first, "_bucket"), read(last, "_bucket")
    for key, total in count1.items():
        count = total - count0.get(key, 0.0)
        if count <= 0:
            continue
        mean = (sum1[key] - sum0.get(key, 0.0)) / count
        value = key[0]
        bounds = sorted(
            (float(le), grown)
            for (v, le), n in buckets1.items()
            if v == value and (grown := n - buckets0.get((v, le), 0.0)) >= 0
        )
        p95 = next((le for le, grown in bounds if grown >= 0.95 * count), float("inf"))
        out[value] = (count, mean, p95)
    return out
