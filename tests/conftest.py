import sys
from pathlib import Path

# Corpus files (tests/mutants, tests/variants) may build on a variant: `from variants.x.y import Base`.
sys.path.insert(0, str(Path(__file__).parent))
