"""The production settings (from the environment, as deployed) with the
bench's URL conf, which adds the ceiling view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.apiserver.urls"
