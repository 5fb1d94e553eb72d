"""One finding of the MPII data checks (:mod:`.mpii_checks`,
:mod:`.mpii_pairing`)."""
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Problem:
    """One finding. ``index`` is the annotation's position in the file."""

    file: str
    index: Optional[int]
    field: str
    message: str
    severity: str = 'error'

    def __str__(self) -> str:
        where = self.file if self.index is None else \
            f'{self.file}:{self.index}'
        return f'{where} {self.field}: {self.severity}: {self.message}'
