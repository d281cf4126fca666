"""The GDB compliance report: building the site x milestone matrix and its output formats.

``matrix`` turns stored outcomes, rules and a date into a Matrix (pure);
``table``, ``markdown``, ``jsonout`` and ``ssb`` render a Report (pure);
``schema`` holds the pydantic models that define ``gridready.report/1``.
"""
