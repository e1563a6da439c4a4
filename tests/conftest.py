"""Fixtures shared by the repository's test modules."""

from pathlib import Path

import pytest

from tests.support import TEMPLATES, generate_many
from tests.test_generation import ALL_COMBINATIONS, combination_id


@pytest.fixture(scope="session", params=TEMPLATES)
def generated(request, tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """Every combination of one template, generated once for the whole session.

    test_generation.py lints and type-checks them, test_deploy.py their deployment files.
    """
    root = tmp_path_factory.mktemp(f"generated-{request.param}")
    jobs = [(root / combination_id(context), context) for context in ALL_COMBINATIONS]
    projects = generate_many(request.param, jobs)
    return {
        combination_id(context): (context, project)
        for context, project in zip(ALL_COMBINATIONS, projects, strict=True)
    }
