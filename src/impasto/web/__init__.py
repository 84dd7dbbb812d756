"""The web layer: pages and JSON API blueprints. It never imports TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask import current_app

from impasto.jobs.runner import Dispatcher
from impasto.jobs.store import JobStore
from impasto.nst.vgg import MissingWeights
from impasto.storage import Storage, unlimited


@dataclass
class Services:
    """What create_app wires up, kept in app.extensions['impasto']."""

    store: JobStore
    dispatcher: Dispatcher
    storage: Storage = field(default_factory=unlimited)  # the cap and the usage (src/impasto/storage.py)
    # Why no job could find its weights now (None: they are at hand); asked per submission and page,
    # so that weights put in place later are seen without a restart.
    weights: Callable[[], MissingWeights | None] = lambda: None


def services() -> Services:
    return current_app.extensions["impasto"]
