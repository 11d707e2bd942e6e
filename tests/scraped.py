"""This process's metrics as a scrape shows them, read with Prometheus' own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from thedata.adapters.observability.metrics import exposition


def scraped(text: str | None = None) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``text`` (by default a scrape of this process) by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(
            text if text is not None else exposition().decode()
        )
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value, 0 when the series has none yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)
