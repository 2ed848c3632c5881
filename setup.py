"""Packaging hook; the metadata is in setup.cfg. The repository's primitives/ folder ships
inside the package as lpzero_gp/primitives/ (see the comment in setup.cfg)."""
from setuptools import find_packages, setup

setup(packages=[*find_packages("src"), "lpzero_gp.primitives"],
      package_dir={"": "src", "lpzero_gp.primitives": "primitives"})
