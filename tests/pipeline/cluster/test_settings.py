"""The cluster: section, and refusing an unreachable cluster at once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.cluster.backend import check_reachable, fingerprint
from pipeline.cluster.settings import ClusterSettings


def test_the_default_is_the_in_process_backend() -> None:
    """Keep today's workers unless the config says ray."""
    assert ClusterSettings().backend == "local"


def test_autoscaling_needs_both_bounds_in_order() -> None:
    """Refuse one bound alone, and a minimum above the maximum."""
    with pytest.raises(ValidationError, match="both"):
        ClusterSettings(min_replicas=0)
    with pytest.raises(ValidationError, match="above"):
        ClusterSettings(min_replicas=3, max_replicas=2)
    assert ClusterSettings(min_replicas=0, max_replicas=3).most_replicas == 3


def test_an_address_nobody_answers_at_is_refused_at_once() -> None:
    """Fail in seconds, naming the address, rather than let Ray retry for minutes."""
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:9"):
        check_reachable("127.0.0.1:9", timeout=2.0)


def test_health_check_and_hang_times_must_be_positive() -> None:
    """Refuse a health check more often than each second, and a zero hang limit."""
    with pytest.raises(ValidationError, match="health_check_seconds"):
        ClusterSettings(health_check_seconds=0.5)
    with pytest.raises(ValidationError, match="hang_seconds"):
        ClusterSettings(hang_seconds=0)


def test_the_fingerprint_changes_with_the_settings_and_the_model() -> None:
    """Re-attach only to what was built from the same engine settings and model."""
    config = {"generation": {"steps": 4}}
    assert fingerprint(config, "tiny") == fingerprint(dict(config), "tiny")
    assert fingerprint(config, "tiny") != fingerprint({"generation": {"steps": 5}}, "tiny")
    assert fingerprint(config, "tiny") != fingerprint(config, "other")
