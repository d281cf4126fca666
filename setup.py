"""Packaging glue that pyproject.toml cannot express.

The repository's ``config/`` (rules, inventory, example grid snapshot, Nagios
definitions) ships inside the wheel as the data package ``gridready._config``;
``gridready.bundled`` finds it there or, in a checkout, at ``config/``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["gridready", "gridready.*"]) + ["gridready._config"],
    package_dir={"gridready._config": "config"},
    package_data={"gridready._config": ["*.yaml", "*.md", "**/*"]},
)
