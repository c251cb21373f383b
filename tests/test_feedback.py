"""The feedback page's sanitizer: a learner's Markdown cannot put script into the page an instructor opens."""

import re

import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune as render

from autograder.feedback import clean_markdown

HOSTILE = [
    "<script>alert('xss')</script> [click](javascript:alert(4))",  # the link appears once the script is removed
    "<img src=x onerror=alert(1)>",
    "[a](JaVaScRiPt:alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<p style='background:url(javascript:alert(1))'>x</p>",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_no_script_survives_the_templates_second_rendering(source):
    shown = render(clean_markdown(source))  # what nbgrader's feedback template puts in the page
    assert not re.findall(r"<script|<iframe|\son\w+\s*=|(?:href|src|style)\s*=\s*[\"'][^\"']*javascript:", shown,
                          re.I), shown


def test_ordinary_markdown_keeps_its_meaning():
    shown = render(clean_markdown("# Title\n\nSome *text*, $a<b$, [a link](https://pytorch.org).\n\n- one\n- two"))
    for part in ("<h1>Title", "<em>text</em>", "$a&lt;b$", 'href="https://pytorch.org"', "<li>one</li>"):
        assert part in shown, (part, shown)
