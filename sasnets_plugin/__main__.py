"""``python -m sasnets_plugin``: SasView with the Model Suggestion perspective.

Same arguments as SasView's ``sasview`` command (data files to load, ``-V``, ...).
"""
import sys

from sasnets_plugin.gui.launcher import main

if __name__ == "__main__":
    sys.exit(main())
