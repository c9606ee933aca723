"""The parser's words are data beside the templates (messages/vocabulary/{zh,en}.toml): they
ship with the package, and a slip in them stops the bot at start instead of quietly changing
what a keeper's message means."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from handlers.parsing.vocabulary import load

ROOT = Path(__file__).resolve().parent.parent


def test_the_word_files_ship_in_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    shipped = pyproject["tool"]["setuptools"]["package-data"]["*"]
    files = sorted((ROOT / "messages" / "vocabulary").glob("*.toml"))
    assert [f.name for f in files] == ["en.toml", "zh.toml"]
    for file in files:
        inside = file.relative_to(ROOT / "messages").as_posix()
        assert any(fnmatch(inside, pattern) for pattern in shipped), inside


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[strong]\ncount = ["库存"]\nconfirm = ["确认", "库存"]\n',
            "zh.toml: strong.confirm: '库存' is already in zh.toml: strong.count",
        ),
        ('[strong]\ncounts = ["库存"]\n', "zh.toml: strong.counts is no list the parser knows"),
        ('[verbs]\ncount = ["库存"]\n', "zh.toml: verbs is no section of the parser's words"),
        ('[strong]\ncount = ["Stock"]\n', "zh.toml: strong.count: 'Stock' must be in lower case"),
        ('[strong]\ncount = "库存"\n', "zh.toml: strong.count must be a list of words"),
        ('[strong]\ncount = ["库存"\n', "zh.toml: "),
    ],
    ids=["twice", "unknown-list", "unknown-section", "upper-case", "not-a-list", "not-toml"],
)
def test_a_slip_in_the_words_names_the_file_and_the_list(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "zh.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as refused:
        load(tmp_path, ["zh"])
    assert str(refused.value).startswith(problem)


def test_a_word_may_be_a_unit_and_a_keyword_in_different_lists(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text(
        '[weak]\nadjust = ["set"]\n[units]\npieces = ["set"]\n', encoding="utf-8"
    )
    words = load(tmp_path, ["en"])
    assert words.words("weak", "adjust") == ("set",) == words.words("units", "pieces")
