"""nbgrader configuration for the course. The repository root is the course root."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "normlab"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"  # the one place a lesson is written
c.CourseDirectory.release_directory = "lessons"  # what learners open; generated, committed
c.CourseDirectory.db_url = "sqlite:///" + c.CourseDirectory.root + "/gradebook.db"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "runs"]

# Lessons train small models: a cell may run a few minutes on a slow CPU, never forever.
c.Execute.timeout = 300
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True

# nbgrader scores a test cell that writes *anything* to stderr as failed, so a harmless PyTorch or NumPy
# warning would zero a correct answer. The autograde pipeline's IgnorePattern step (off by default) drops
# stderr outputs matching this pattern after execution: Python warnings ("...Warning: ...") and tqdm
# progress bars. Errors are not stderr text but "error" outputs, so a failing test still scores zero.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?:\w*Warning: )|(?:\d+%\|)"

# Release: an answer cell becomes this stub; a written answer becomes the text stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
