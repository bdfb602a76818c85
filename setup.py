"""Builds and installs the Python package textgrad_cpp with CMake, offline:

    python3 -m venv --system-site-packages venv
    venv/bin/pip install --no-build-isolation .

Needs the Debian packages of scripts/setup.sh (pybind11-dev, python3-dev, python3-setuptools,
python3-wheel, cmake, ninja-build and the library's own dependencies); nothing from PyPI.
TEXTGRAD_CMAKE_ARGS adds CMake arguments (e.g. "-DCMAKE_BUILD_TYPE=Debug").
"""

import os
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures the whole project with only the Python module enabled and builds that."""

    def build_extension(self, ext):
        build_dir = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        args = [
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DTEXTGRAD_BUILD_PYTHON=ON",
            "-DTEXTGRAD_BUILD_TESTS=OFF",
            "-DTEXTGRAD_BUILD_BENCH=OFF",
            "-DTEXTGRAD_BUILD_EXAMPLES=OFF",
            *shlex.split(os.environ.get("TEXTGRAD_CMAKE_ARGS", "")),
        ]
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, *generator, *args])
        subprocess.check_call(
            ["cmake", "--build", build_dir, "--target", "textgrad_python", "--parallel"]
        )
        built = os.path.join(build_dir, "python", "textgrad_cpp")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        module = next(f for f in os.listdir(built) if f.startswith("_textgrad_cpp") and f.endswith(".so"))
        shutil.copy2(os.path.join(built, module), target)
        # The datasets and price table travel inside the package: the library looks for a
        # data/ folder next to the file it was loaded from.
        data = os.path.join(os.path.dirname(target), "data")
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "data"), data)


setup(
    packages=["textgrad_cpp"],
    package_dir={"": "python"},
    package_data={"textgrad_cpp": ["*.pyi", "py.typed"]},
    ext_modules=[CMakeExtension("textgrad_cpp._textgrad_cpp")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
    # Keeps setuptools out of CMake's build/ folder.
    options={"build": {"build_base": "build-python"}},
)
