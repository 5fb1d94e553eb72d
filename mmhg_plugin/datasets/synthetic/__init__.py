"""Synthetic MPII-format dataset generator (needs only numpy, cv2, scipy)."""
from .pose import Person3D, project_person, sample_person
from .scene import (PersonAnnotation, Scene, SceneConfig, image_rng,
                    render_scene)
from .skeleton import (FLIP_PAIRS, JOINT_NAMES, LEFT_JOINTS, MAT_JOINT_NAMES,
                       NUM_JOINTS, RIGHT_JOINTS, SKELETON)
from .writer import (GENERATOR_VERSION, VAL_ID_OFFSET, generate_synthetic_mpii,
                     image_name, person_entry, write_mpii_gt_mat)

__all__ = [
    'FLIP_PAIRS', 'GENERATOR_VERSION', 'JOINT_NAMES', 'LEFT_JOINTS',
    'MAT_JOINT_NAMES', 'NUM_JOINTS', 'PersonAnnotation', 'Person3D',
    'RIGHT_JOINTS', 'SKELETON', 'Scene', 'SceneConfig', 'VAL_ID_OFFSET',
    'generate_synthetic_mpii', 'image_name', 'image_rng', 'person_entry',
    'project_person', 'render_scene', 'sample_person', 'write_mpii_gt_mat'
]
