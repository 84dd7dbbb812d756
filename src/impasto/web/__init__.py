"""The web layer: pages and JSON API blueprints. It never imports TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from impasto.jobs.runner import Dispatcher
from impasto.jobs.store import JobStore


@dataclass
class Services:
    """What create_app wires up, kept in app.extensions['impasto']."""

    store: JobStore
    dispatcher: Dispatcher


def services() -> Services:
    return current_app.extensions["impasto"]
