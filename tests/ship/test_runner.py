"""The agent does not load the CLI's libraries: ``tracelake.ship`` imports no
``tracelake.cli`` module, and neither click nor rich until a terminal shows the live
table. (httpx's own optional command line imports both when they are installed; the
check blocks that one module so it sees the agent's imports only.)"""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "httpx._main":  # httpx's CLI, optional: httpx imports without it
            raise ImportError("blocked")
        return None

sys.meta_path.insert(0, Block())
import tracelake.ship.runner
loaded = {m.split(".")[0] for m in sys.modules}
cli = sorted(m for m in sys.modules if m.startswith("tracelake.cli"))
print("click" in loaded, "rich" in loaded, cli)
"""


def test_the_agent_loads_neither_the_cli_nor_click_nor_rich() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False", "[]"]
