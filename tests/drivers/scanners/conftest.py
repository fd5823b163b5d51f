"""Makes the scanner test kit importable whatever pytest import mode the repository chooses."""

import sys
from pathlib import Path

# Test folders have no __init__.py (test basenames are unique instead), so the helper module next to the
# tests is found through sys.path; "prepend" mode does this already, "importlib" mode does not.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
