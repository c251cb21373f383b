"""autograder: what grading the course needs -- the checks (``autograder.checks``), references for what
torch lacks (``autograder.references``) and the instructor's command line (``python -m autograder``).

Learners' notebooks import only ``autograder.checks``, which needs nothing beyond torch.
"""
