"""Running what lives outside the package the way the tests need it: the scripts in evals/
(imported as modules) and the notebooks (executed top to bottom by a real kernel)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from assistant.config import ROOT


def load_script(name: str) -> ModuleType:
    """``evals/<name>.py`` as a module, registered as ``name`` (so a script beside it can import
    it the way it does when run)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "evals" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def execute_notebook(name: str, timeout: int) -> tuple[list[dict], str]:
    """Run ``notebooks/<name>`` in the project root; its code cells' outputs (none an error)
    and their text (stream text and markdown) joined by newlines."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(
        o.get("text", "") or o.get("data", {}).get("text/markdown", "") for o in outputs
    )
    return outputs, text
