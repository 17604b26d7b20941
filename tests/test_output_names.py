"""output.file may be any Unicode letters (the message says "letters"), never a path out of the
run dir, a control character or a trailing newline."""
from __future__ import annotations

import pytest

from chainer.storyboard_rules import output_file_problem


@pytest.mark.parametrize("name", ["film.mp4", "Été à Paris.mp4", "电影 第1集.mp4", "Ночь_2-final.mov",
                                  "sub/dir/film.mp4"])
def test_letters_of_any_script_are_allowed(name):
    assert output_file_problem(name) is None


@pytest.mark.parametrize("name", ["../film.mp4", "/tmp/film.mp4", ".hidden.mp4", "-x.mp4",
                                  "film\n.mp4", "film.mp4\n", "fi\tlm.mp4", "_x.mp4", "film.txt"])
def test_unsafe_names_are_refused(name):
    assert output_file_problem(name)
