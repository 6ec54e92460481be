"""From raw records to schema rows: field paths, templates, label spellings, choices."""

import pytest
from omegaconf import OmegaConf

from afuse.data.normalize import LabelIndex, Normalizer, RowProblem, lookup, render
from afuse.errors import ConfigError

CSQA_RECORD = {"answerKey": "B", "id": "q1",
               "question": {"stem": "Where?", "choices": [{"label": "A", "text": "here"}, {"label": "B", "text": "there"}]}}  # fmt: skip


def test_lookup_follows_dotted_paths_through_lists_of_objects():
    assert lookup(CSQA_RECORD, "question.stem") == "Where?"
    assert lookup(CSQA_RECORD, "question.choices.text") == ["here", "there"]
    assert lookup({"choices": {"text": ["a", "b"]}}, "choices.text") == ["a", "b"]  # the Hub's dict of lists
    with pytest.raises(RowProblem, match="missing field 'question.answer'"):
        lookup(CSQA_RECORD, "question.answer")


def test_a_missing_field_names_the_fields_there_are():
    """A misspelt field in a new task's config (`text_a: reviw`) made every row malformed with only
    the wrong name in the message; the names the row does have show the fix."""
    with pytest.raises(RowProblem, match=r"missing field 'reviw' \(this row has: uid, review, sentiment\)"):
        lookup({"uid": "1", "review": "Fine.", "sentiment": "good"}, "reviw")
    with pytest.raises(
        RowProblem, match=r"missing field 'question.answer' \(question has: question_concept, choices, stem\)"
    ):
        lookup({"question": {"question_concept": "x", "choices": [], "stem": "?"}}, "question.answer")


def test_render_fills_templates_including_odd_column_names():
    record = {"#1 ID": "101", "#2 ID": "201", "context": "I left.", "question": "Why?"}
    assert render(record, "{#1 ID}-{#2 ID}") == "101-201"
    assert render(record, "{context} {question}") == "I left. Why?"
    with pytest.raises(RowProblem, match="expected text"):
        render({"x": None}, "x")


def test_label_index_accepts_case_variants_aliases_and_json_booleans(task_cfg):
    scitail = task_cfg("scitail")
    labels = LabelIndex(scitail, scitail.local)
    assert [labels(raw) for raw in ["0", "neutral", "NEUTRAL", "1", "entails", 1, 1.0]] == [
        0,
        0,
        0,
        1,
        1,
        1,
        1,
    ]
    boolq = task_cfg("boolq")
    assert [LabelIndex(boolq, boolq.local)(raw) for raw in [False, True, "true"]] == [0, 1, 1]
    with pytest.raises(
        RowProblem, match=r"unknown label 'contradiction'; expected one of \['0', '1', 'entails'"
    ):
        labels("contradiction")


def test_label_alias_to_an_unknown_label_is_a_config_error(task_cfg):
    sst2 = task_cfg("sst2", "local.label_aliases.2=neutral")
    with pytest.raises(ConfigError, match="maps '2' to 'neutral', which is not one of its labels"):
        LabelIndex(sst2, sst2.local)


def test_multiple_choice_rows_map_choice_keys_and_check_the_count(task_cfg):
    csqa = task_cfg("csqa", "num_choices=2")
    normalizer = Normalizer(csqa, csqa.local)
    assert normalizer.row(CSQA_RECORD) == {"id": "q1", "text_a": "Where?", "text_b": None,
                                           "choices": ["here", "there"], "label": 1}  # fmt: skip
    with pytest.raises(RowProblem, match=r"2 choices, expected 3 \(the task's num_choices\)"):
        Normalizer(task_cfg("csqa", "num_choices=3"), csqa.local).row(CSQA_RECORD)


def test_winogrande_rows_need_the_blank(task_cfg):
    winogrande = task_cfg("winogrande")
    normalizer = Normalizer(winogrande, winogrande.local)
    record = {
        "qID": "w",
        "sentence": "A hit B because _ was mad.",
        "option1": "A",
        "option2": "B",
        "answer": "2",
    }
    assert normalizer.row(record)["label"] == 1
    with pytest.raises(RowProblem, match="no blank '_'"):
        normalizer.row({**record, "sentence": "No blank."})


def test_empty_text_is_a_problem_not_a_row(task_cfg):
    rte = task_cfg("rte")
    with pytest.raises(RowProblem, match="empty text_b"):
        Normalizer(rte, rte.local).row({"premise": "P", "hypothesis": "  ", "label": "entailment", "idx": 0})
    assert Normalizer(rte, OmegaConf.merge(rte.local, {"fields": {"id": None}})).row(
        {"premise": " P ", "hypothesis": "H", "label": "entailment"}
    ) == {"id": None, "text_a": "P", "text_b": "H", "choices": None, "label": 0}
