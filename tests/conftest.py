"""Shared fixtures and settings for the whole suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A quick, deterministic profile for property tests; `HYPOTHESIS_PROFILE=dev` explores more.
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
