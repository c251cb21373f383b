"""Mutant: RunningBatchNorm as a subclass of the course's own reference (exact, but not the learner's code)."""
from autograder.references import RunningBatchNorm as Reference


class RunningBatchNorm(Reference):
    pass


ANSWER = RunningBatchNorm
CHECK = "check_running_batchnorm"
EXPECT = "rbn_delegates_to_torch"
CAUGHT_BY = "visible"
