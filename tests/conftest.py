import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

# Corpus files (tests/mutants, tests/variants) may build on a variant: `from variants.x.y import Base`.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def host():
    """The host's things the attacks aim at (``classroom.HOST``), made before grading and removed after."""
    from attacks import lesson
    from classroom import HOST, HostSocket

    HOST["victim"].write_text("only root may read this")
    os.chmod(HOST["victim"], 0o600)
    HOST["copy"].parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(lesson(), HOST["copy"])
    server = HostSocket(HOST["socket"])
    yield server
    server.close()
    HOST["victim"].unlink(missing_ok=True)
    shutil.rmtree(HOST["copy"].parents[2], ignore_errors=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The honest students graded by plain serial nbgrader."""
    from attacks import HONEST
    from classroom import make_course, serial_nbgrader

    return serial_nbgrader(make_course(tmp_path_factory.mktemp("serial") / "course", HONEST))
