"""Packaging beyond what pyproject.toml can say: the data folders (problems/, exercises/,
migrations/, kit/) stay at the top of the repository but ship inside the package, as
``grader/_data/<folder>``, so the wheel puts nothing but grader/, web/ and server.py at the
top of site-packages. ``grader.data_root.data_root`` finds them in either place."""

from setuptools import find_namespace_packages, setup

DATA_FOLDERS = ("problems", "exercises", "migrations", "kit")
SKIP = ["*__pycache__*", "*.egg-info*"]

code = find_namespace_packages(include=["grader", "grader.*", "web", "web.*"], exclude=SKIP)
data = find_namespace_packages(include=[f"{d}{s}" for d in DATA_FOLDERS for s in ("", ".*")],
                               exclude=SKIP)
setup(packages=code + [f"grader._data.{name}" for name in data],
      package_dir={f"grader._data.{folder}": folder for folder in DATA_FOLDERS})
