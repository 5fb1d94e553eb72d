"""mmhg: the Stacked Hourglass network as an MMPose 1.x plugin.

Install with ``bash tools/setup_env.sh`` (or ``make setup``): it pins and builds the
OpenMMLab stack first (mmcv's ops must be compiled, mmpose needs --no-deps), then
installs this package editable with --no-deps. ``install_requires`` is therefore left
empty on purpose: the pins live in requirements/.
"""
from pathlib import Path

from setuptools import find_packages, setup


def read_version() -> str:
    """The version from mmhg_plugin/__init__.py, without importing it."""
    for line in Path(__file__).with_name('mmhg_plugin').joinpath(
            '__init__.py').read_text().splitlines():
        if line.startswith('__version__'):
            return line.split('=')[1].strip().strip("'\"")
    raise RuntimeError('no __version__ in mmhg_plugin/__init__.py')


setup(
    name='mmhg_plugin',
    version=read_version(),
    description='Stacked Hourglass (Newell et al., ECCV 2016) for MMPose 1.x',
    long_description=Path(__file__).with_name('README.md').read_text(
        encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmhg_plugin', 'mmhg_plugin.*']),
    python_requires='>=3.9',
    install_requires=[],
    license='Apache-2.0',
    zip_safe=False,
)
