"""Each raw-format reader against its own fixture, messy rows included."""

import os
from pathlib import Path

import pytest

from afuse.data.readers import RawDataError, RawRecord, read_labels_file, with_labels
from afuse.data.readers.delimited import read_csv, read_tsv
from afuse.data.readers.hellaswag import read_hellaswag_text
from afuse.data.readers.imdb import read_imdb_tar
from afuse.data.readers.json_formats import read_crossfit_jsonl, read_json_records, read_jsonl


def split_good_bad(records):
    records = list(records)
    return [r for r in records if r.problem is None], [r for r in records if r.problem]


def test_jsonl_reads_past_bom_and_reports_broken_lines(fixture_data):
    good, bad = split_good_bad(read_jsonl(fixture_data / "RTE/superglue/train.jsonl"))
    assert "premise" in good[0].fields  # the BOM did not end up in the first key
    assert [r.fields["idx"] for r in good] == [0, 1, 2, 3, 5, 6, 7]
    assert [(r.position, r.problem) for r in bad] == [("5", "invalid JSON (Unterminated string starting at)")]


def test_crossfit_jsonl_splits_the_prompt(fixture_data):
    good, bad = split_good_bad(read_crossfit_jsonl(fixture_data / "MNLI/dev_matched.jsonl"))
    assert good[0].fields == {"premise": "Matched premise 0.", "hypothesis": "Matched hypothesis 0.",
                              "output": "entailment"}  # fmt: skip
    assert len(good) == 3 and len(bad) == 1 and "key: text [SEP] key: text" in bad[0].problem


def test_json_records_yields_each_keyed_record(fixture_data, tmp_path):
    good, bad = split_good_bad(read_json_records(fixture_data / "QQP/glue_sample/dev.json"))
    assert [r.position for r in good] == ["0", "1", "2"] and not bad
    assert good[1].fields["label"] == "1"
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(RawDataError, match="expected one JSON object"):
        list(read_json_records(tmp_path / "list.json"))


def test_tsv_strips_bom_keeps_quotes_and_reports_short_rows(fixture_data):
    good, bad = split_good_bad(read_tsv(fixture_data / "MRPC/msr_paraphrase_train.txt"))
    assert list(good[0].fields) == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    assert good[0].fields["#1 String"] == 'He said " the witness " lied .'  # quotes are text, not quoting
    assert len(good) == 8
    assert [(r.position, r.problem) for r in bad] == [
        ("7", "4 tab-separated fields, expected 5 (Quality, #1 ID, #2 ID, #1 String, #2 String)")
    ]


def test_tsv_handles_crlf_and_headerless_files(fixture_data):
    good, _ = split_good_bad(read_tsv(fixture_data / "SciTail/train.tsv"))
    assert [r.fields["label"] for r in good] == [
        "1",
        "0",
        "entails",
        "neutral",
        "entails",
        "contradiction",
        "1",
    ]
    rows = list(read_tsv(fixture_data / "QQP/bimpm/dev.tsv", columns=["label", "q1", "q2", "pair_id"]))
    assert len(rows) == 3 and rows[0].fields == {"label": "1", "q1": "How do I learn ?", "q2": "How can I learn ?",
                                                 "pair_id": "11"}  # fmt: skip


def test_csv_reads_quoted_commas_quotes_and_newlines(fixture_data):
    good, bad = split_good_bad(read_csv(fixture_data / "CosmosQA/valid.csv"))
    assert len(good) == 6
    assert good[0].fields["context"] == 'Day 0, I went out, and "it" rained.\r\nThen I left.'
    assert good[0].fields["answer3"] == "None of the above choices ."
    assert len(bad) == 1 and bad[0].problem == "3 comma-separated fields, expected 8"


def test_hellaswag_text_groups_six_lines_and_reports_bad_items(fixture_data):
    good, bad = split_good_bad(read_hellaswag_text(fixture_data / "HellaSwag/hellaswag_val_full.txt.bz2"))
    assert len(good) == 5
    assert good[0].fields == {"ctx": "Cooking: A man cuts onion 0. he", "label": "0",
                              "endings": ["cries.", "laughs.", "sleeps.", "runs away."]}  # fmt: skip
    assert [r.position for r in bad] == ["13", "37"]
    assert "label 0-3" in bad[0].problem and "incomplete item" in bad[1].problem


def test_imdb_reads_reviews_from_the_archive_and_refuses_hostile_members(fixture_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good, bad = split_good_bad(read_imdb_tar(fixture_data / "IMDB/aclImdb_labeled.tar.gz"))
    assert sorted(r.fields["id"] for r in good) == [
        "test/neg/6_3", "test/pos/5_10", "train/neg/2_1", "train/neg/3_2", "train/pos/0_9", "train/pos/1_8"
    ]  # fmt: skip
    assert next(r for r in good if r.fields["id"] == "train/pos/1_8").fields["label"] == "pos"
    reasons = {r.position: r.problem for r in bad}
    assert "unsafe member name" in reasons["../train/pos/7_9.txt"]
    assert "not a regular file" in reasons["aclImdb/train/neg/8_1.txt"]
    assert "not <id>_<stars>.txt" in reasons["aclImdb/test/neg/notes.txt"]
    assert os.listdir(tmp_path) == []  # nothing was extracted


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])  # cut in the gzip stream at several places
def test_a_truncated_imdb_archive_is_one_error_naming_it(keep, fixture_data, tmp_path):
    whole = (fixture_data / "IMDB/aclImdb_labeled.tar.gz").read_bytes()
    cut = tmp_path / "aclImdb_labeled.tar.gz"
    cut.write_bytes(whole[: int(len(whole) * keep)])  # an interrupted download
    with pytest.raises(RawDataError, match=f"{cut}: the archive is cut short or damaged"):
        list(read_imdb_tar(cut))


def test_labels_file_is_joined_by_position_and_checked(fixture_data):
    records = list(read_jsonl(fixture_data / "Winogrande/train_l.jsonl"))
    labels_path = fixture_data / "Winogrande/train_l-labels.lst"
    joined = with_labels(records, read_labels_file(labels_path), "answer", labels_path)
    assert [r.fields["answer"] if r.fields else r.problem for r in joined][:4] == [
        "1", "2", "1", "label '2' disagrees with train_l-labels.lst ('1')"
    ]  # fmt: skip
    with pytest.raises(RawDataError, match="has 5 labels but its data file has 6 rows"):
        with_labels(records, read_labels_file(labels_path)[:5], "answer", labels_path)


def test_labels_file_fills_a_missing_label():
    joined = with_labels([RawRecord("1", {"q": "x"})], ["3"], "label", Path("dev-labels.lst"))
    assert joined[0].fields == {"q": "x", "label": "3"}
