"""What the lifespan sets up for the process, and gives back on shutdown."""

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import YOUNG_COLLECTION_THRESHOLD


def test_startup_freezes_what_lives_as_long_as_the_process_and_shutdown_thaws_it(app: FastAPI):
    threshold_before = gc.get_threshold()

    with TestClient(app):
        frozen = gc.get_freeze_count()
        running_threshold = gc.get_threshold()

    assert frozen > 10_000  # the modules, routes and schemas, not a handful of objects
    assert running_threshold[0] == YOUNG_COLLECTION_THRESHOLD
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == threshold_before
