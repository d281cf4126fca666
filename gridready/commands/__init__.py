"""Sub-commands of the ``gridready`` CLI, one module each."""
