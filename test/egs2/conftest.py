"""Fixtures of the recipe tests."""

import pytest

from mini_synth_testing import reference_run


@pytest.fixture(scope="session")
def mini_synth_reference(tmp_path_factory):
    """(recipe folder, result) of the uninterrupted mini_synth run shared with test/reliability."""
    return reference_run(tmp_path_factory)
