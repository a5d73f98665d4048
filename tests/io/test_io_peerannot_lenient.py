"""peerannot's own data must load: its ``krippendorff-data`` folder declares ``n_classes: 4``
in metadata.json while answers.json uses the labels 1..4. crowdwise reads it with one
InputWarning (file, declared and seen counts) and extends the classes, unless
``strict=True``; labels that are not integers where integers are declared stay errors."""

from __future__ import annotations

import json
import warnings

import pytest

from crowdwise import InputError
from crowdwise.errors import InputWarning
from crowdwise.io import load_votes, read_answers, read_peerannot

# the layout of peerannot's datasets/krippendorff-data (metadata.json and answers.json as written there)
KRIPPENDORFF_METADATA = '{\n    "name": "krippendorffAlpha_Test",\n    "n_classes": 4,\n    "n_workers": 3\n}'
KRIPPENDORFF_ANSWERS = {
    "0": {"1": 1}, "1": {}, "2": {"1": 2, "2": 2}, "3": {"1": 1, "2": 1}, "4": {"1": 3, "2": 3},
    "5": {"0": 3, "1": 3, "2": 4}, "6": {"0": 4, "1": 4, "2": 4}, "7": {"0": 1, "1": 3}, "8": {"0": 2, "2": 2},
    "9": {"0": 1, "2": 1}, "10": {"0": 1, "2": 1}, "11": {"0": 3, "2": 3}, "12": {"0": 3, "2": 3},
    "13": {}, "14": {"0": 3, "2": 4},
}


@pytest.fixture
def krippendorff(tmp_path):
    d = tmp_path / "krippendorff-data"
    d.mkdir()
    (d / "metadata.json").write_text(KRIPPENDORFF_METADATA)
    (d / "answers.json").write_text(json.dumps(KRIPPENDORFF_ANSWERS, indent=4))
    return d


def test_krippendorff_data_loads_with_one_warning(krippendorff):
    with pytest.warns(InputWarning) as record:  # before: InputError "label 4 is outside the 4 declared classes"
        v = load_votes(krippendorff)
    assert len(record) == 1
    msg = str(record[0].message)
    assert "\n" not in msg and msg.startswith(str(krippendorff / "metadata.json"))
    assert "n_classes is 4" in msg and "answers.json" in msg and "5 classes are read (0..4)" in msg
    assert "strict=True" in msg
    assert issubclass(InputWarning, UserWarning)
    assert v.classes.tolist() == [0, 1, 2, 3, 4] and v.n_classes == 5
    assert v.n_votes == 27 and v.n_tasks == 15 and v.n_workers == 3 and v.name == "krippendorffAlpha_Test"
    assert sorted(set(v.label.tolist())) == [1, 2, 3, 4]


def test_strict_refuses_it(krippendorff):
    for call in (lambda: load_votes(krippendorff, strict=True), lambda: read_peerannot(krippendorff, strict=True),
                 lambda: read_answers(krippendorff / "answers.json", strict=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(InputError) as err:
                call()
        msg = str(err.value)
        assert "label 4 is outside the 4 declared classes" in msg and "n_classes" in msg and "Fix:" in msg


def test_what_stays_refused(tmp_path):
    def folder(name, answers, metadata):
        d = tmp_path / name
        d.mkdir()
        (d / "answers.json").write_text(json.dumps(answers))
        (d / "metadata.json").write_text(json.dumps(metadata))
        return d

    # a label that is not an integer where integers are declared
    with pytest.raises(InputError, match="label 2.5 is neither a class index"):
        load_votes(folder("frac", {"0": {"a": 1, "b": 2.5}}, {"n_classes": 4}))
    with pytest.raises(InputError, match="label 'owl' is neither a class index"):
        load_votes(folder("text", {"0": {"a": 1, "b": "owl"}}, {"n_classes": 4}))
    # class names declared: a name cannot be made up for index 2
    with pytest.raises(InputError, match="label 2 is outside the 2 declared classes"):
        load_votes(folder("named", {"0": {"a": 0, "b": 2}}, {"n_classes": 2, "classes": ["cat", "dog"]}))
    # n_classes given as an argument is the caller's own declaration
    with pytest.raises(InputError, match="label 2 is outside the 2 declared classes"):
        load_votes(folder("arg", {"0": {"a": 0, "b": 2}}, {"n_classes": 3}), n_classes=2)
    # negative labels, and indices too large to be classes
    with pytest.raises(InputError, match="negative"):
        load_votes(folder("neg", {"0": {"a": -1}}, {"n_classes": 2}))
    with pytest.raises(InputError, match="too large to be a class index"):
        load_votes(folder("huge", {"0": {"a": 10**9}}, {"n_classes": 2}))


def test_n_tasks_that_cannot_be_named_warns_or_is_refused_with_strict(tmp_path):
    d = tmp_path / "named-tasks"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps({"a": {"w": 0}, "b": {"w": 1}}))
    (d / "metadata.json").write_text(json.dumps({"n_classes": 2, "n_tasks": 5}))
    with pytest.warns(InputWarning, match="n_tasks=5 declares 3 task"):
        assert load_votes(d).n_tasks == 2
    with pytest.raises(InputError, match="key 'n_tasks'"):
        load_votes(d, strict=True)
