"""Synthetic MPII-format dataset generator (needs only numpy, cv2, scipy).

MPII facts come from :mod:`mmhg_plugin.datasets.mpii_conventions` and the
files are written by :mod:`mmhg_plugin.datasets.mpii_io`, never the reverse.
The plugin (``import mmhg_plugin``) does not import this package; the tools,
benchmarks and tests that generate data do.
"""
from .pose import Person3D, project_person, sample_person
from .scene import PersonAnnotation, Scene, SceneConfig, image_rng, render_scene
from .writer import (
                    GENERATOR_VERSION,
                    VAL_ID_OFFSET,
                    generate_synthetic_mpii,
                    image_name,
                    person_entry,
)

__all__ = [
    'GENERATOR_VERSION', 'PersonAnnotation', 'Person3D', 'Scene',
    'SceneConfig', 'VAL_ID_OFFSET', 'generate_synthetic_mpii', 'image_name',
    'image_rng', 'person_entry', 'project_person', 'render_scene',
    'sample_person'
]
