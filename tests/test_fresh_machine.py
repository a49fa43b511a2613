"""The suite itself runs as a fresh machine would: nothing a previous run (or the developer's own Ray, W&B or
pip) left in the temp dir or HOME can make a test pass."""

import os
import tempfile
from pathlib import Path

from tests.conftest import FRESH_ROOT_ENV


def test_temp_root_and_home_are_this_sessions_own():
    root = Path(os.environ[FRESH_ROOT_ENV])
    assert Path(tempfile.gettempdir()).resolve() == (root / "tmp").resolve()
    assert Path.home().resolve() == (root / "home").resolve()
    # The one Ray cluster the tests join is the suite's own, its files inside the fresh root.
    import ray

    ray.init(address=os.environ["RAY_ADDRESS"], include_dashboard=False, log_to_driver=False)
    try:
        session = Path(ray._private.worker._global_node.get_session_dir_path())
    finally:
        ray.shutdown()
    assert session.resolve().is_relative_to(root.resolve())
    # A local Ray the suite started keeps its logs in a private folder, inside the fresh root too.
    assert Path(os.environ.get("RAY_TMPDIR", root)).resolve().is_relative_to(root.resolve())
    # Ray's default temp dir (where ray.cluster_utils.Cluster writes its address file) is under the fresh root.
    from ray._common.utils import get_ray_address_file

    assert Path(get_ray_address_file(None)).resolve().is_relative_to(root.resolve())
