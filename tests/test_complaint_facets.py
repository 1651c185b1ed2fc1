"""The complaint facet examples and model (analysis.complaint_facets): the file, its checks, the classifier."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from analysis import complaint_facets as cf
from analysis.model_store import DEFAULT_MODEL_DIR

REPO = Path(__file__).resolve().parent.parent
#: Fewest examples a facet (and ``none``) may have.
MIN_ROWS = 30


@pytest.fixture(scope="module")
def examples() -> list[cf.Example]:
    return cf.load_examples()


@pytest.fixture(scope="module")
def model():
    return cf.facet_model()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "facets.csv"
    path.write_text(text, encoding="utf-8")
    return path


VALID = "facet,text,business\n" + "".join(f"{label},an example of {label},shop\n" for label in cf.LABELS)


def test_the_shipped_file_loads_with_every_facet_and_enough_rows(examples):
    per = Counter(e.facet for e in examples)
    assert set(per) == set(cf.LABELS)
    thin = {label: n for label, n in per.items() if n < MIN_ROWS}
    assert not thin, thin


def test_no_business_dominates_a_facet(examples):
    for label in cf.LABELS:
        rows = [e.business for e in examples if e.facet == label]
        business, n = Counter(rows).most_common(1)[0]
        assert n <= len(rows) / 5, (label, business, n, len(rows))


def test_no_two_examples_are_near_duplicates(examples):
    from sklearn.feature_extraction.text import TfidfVectorizer

    m = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform([e.text.lower() for e in examples])
    sim = (m @ m.T).toarray()
    np.fill_diagonal(sim, 0.0)
    i, j = np.unravel_index(sim.argmax(), sim.shape)
    assert sim[i, j] < 0.8, (examples[i].line, examples[j].line, examples[i].text, examples[j].text)


def test_a_valid_small_file_loads(tmp_path):
    loaded = cf.load_examples(write(tmp_path, VALID))
    assert [e.facet for e in loaded] == list(cf.LABELS)
    assert loaded[0].line == 2 and loaded[0].business == "shop"


@pytest.mark.parametrize("bad, message", [
    (VALID + "waiting,too slow,bank\n", "line 17: unknown facet 'waiting'"),
    (VALID + "waiting_delay,  ,bank\n", "line 17: empty text"),
    (VALID + "waiting_delay,too slow,\n", "line 17: empty business"),
    (VALID + "waiting_delay,too slow, and late,bank\n", "line 17: 4 columns"),
    ("facet,comment,business\n" + VALID.split("\n", 1)[1], "line 1: header is 'facet,comment,business'"),
    ("", "empty file"),
    ("facet,text,business\nwaiting_delay,too slow,bank\n", "no examples of cancellation"),
])
def test_a_bad_file_is_refused_with_its_line(tmp_path, bad, message):
    path = write(tmp_path, bad)
    with pytest.raises(cf.FacetFileError) as caught:
        cf.load_examples(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_or_binary_file_is_refused_clearly(tmp_path):
    with pytest.raises(cf.FacetFileError, match="cannot read"):
        cf.load_examples(tmp_path / "nope.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes(VALID.encode() + "waiting_delay,caf\xe9 too slow,shop\n".encode("latin-1"))
    with pytest.raises(cf.FacetFileError, match="not UTF-8"):
        cf.load_examples(path)


def test_probabilities_have_a_column_per_label_and_rows_sum_to_one(model):
    texts = ["on hold for an hour", "on hold for an hour", "", "the room was dirty", "thanks!"]
    probs = cf.facet_probabilities(texts, model)
    assert probs.shape == (len(texts), len(cf.LABELS))
    assert np.allclose(probs.sum(1), 1.0)
    assert np.array_equal(probs[0], probs[1])
    assert cf.facet_probabilities([], model).shape == (0, len(cf.LABELS))


def test_block_by_block_scoring_equals_the_pipelines_predict_proba(model):
    texts = ["on hold for an hour", "the room was dirty and the staff rude", "thanks!", ""]
    expected = model.predict_proba(texts)[:, [list(model.classes_).index(label) for label in cf.LABELS]]
    assert np.allclose(cf.facet_probabilities(texts, model), expected, atol=1e-6)


def test_two_fits_give_the_same_probabilities(examples):
    texts = ["my parcel never arrived", "the engineer did not come", "great staff"]
    first = cf.facet_probabilities(texts, cf.fit(examples))
    second = cf.facet_probabilities(texts, cf.fit(examples))
    assert np.array_equal(first, second)


def test_the_model_is_fitted_once_per_process(model):
    assert cf.facet_model() is model


# Written for this test (not from any data set): each says one facet in words the examples do not use as such.
PARAPHRASES = [
    ("three hours stuck in the departure lounge before we finally boarded", "waiting_delay"),
    ("the dentist called off my check-up on the morning", "cancellation"),
    ("the boiler man never turned up, I stayed in all day", "no_show_appointment"),
    ("held in the phone queue for 70 minutes, then the call dropped", "reaching_support"),
    ("not one person bothered to update us on what was going on", "communication"),
    ("the lady at the counter was incredibly rude and sneered at me", "staff_attitude"),
    ("wifi cuts out every few minutes in the evenings", "fault_not_working"),
    ("they billed me twice for the same month", "billing_charges"),
    ("far too pricey for what you get", "price_value"),
    ("the website would not let me amend my reservation", "ordering_booking"),
    ("my package turned up smashed and half empty", "lost_damaged_item"),
    ("the mattress was lumpy and the carpet was stained", "quality_comfort"),
    ("they refused compensation, citing their terms and conditions", "policy_rules"),
    ("an absolute disgrace of a company", "general_verdict"),
    ("thank you, the team were wonderful", cf.NONE),
]


def test_hand_written_paraphrases_land_in_their_facet(model):
    probs = cf.facet_probabilities([text for text, _ in PARAPHRASES], model)
    got = [cf.LABELS[k] for k in probs.argmax(1)]
    wrong = [(text, want, have) for (text, want), have in zip(PARAPHRASES, got) if want != have]
    # the leave-one-business-out macro-F1 is about 0.75 (benchmarks/README.md): a few may miss, not most
    assert len(wrong) <= 2, wrong


# What issues #20 and #22 need (benchmarks/README.md, stops 23-26): one complaint told in different words
# shares a facet, two complaints do not. Written for this test, not taken from any data set.
TOLD_DIFFERENTLY = {
    "reaching_support": ["stuck on hold for ages", "hours on the phone", "their call centre"],
    "waiting_delay": ["took far too long", "a month to get us connected", "still waiting on it"],
    "cancellation": ["my orders keep getting cancelled"],
    "fault_not_working": ["internet has been down all week"],
}


def test_one_complaint_told_differently_shares_a_facet_and_two_complaints_do_not(model):
    for facet, texts in TOLD_DIFFERENTLY.items():
        got = [cf.LABELS[k] for k in cf.facet_probabilities(texts, model).argmax(1)]
        assert got == [facet] * len(texts), (facet, list(zip(texts, got)))


def test_the_examples_ship_in_the_package_data():
    assert cf.EXAMPLES_PATH == DEFAULT_MODEL_DIR / "facets" / "complaint_facets.csv"
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert "*.csv" in config["options.package_data"]["rapport_models.facets"]
    assert '"rapport_models.facets"' in (REPO / "setup.py").read_text()


def test_the_examples_are_found_from_an_installed_package(tmp_path):
    """Laid out as a wheel installs it (analysis/ beside rapport_models/, no setup.cfg): the file is
    found and the model fits from it."""
    shutil.copytree(REPO / "analysis", tmp_path / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "rapport_models" / "facets").mkdir(parents=True)
    (tmp_path / "rapport_models" / "__init__.py").write_text("")
    (tmp_path / "rapport_models" / "word_vectors").symlink_to(DEFAULT_MODEL_DIR / "word_vectors")
    shutil.copy(cf.EXAMPLES_PATH, tmp_path / "rapport_models" / "facets")
    code = ("from analysis import complaint_facets as cf; print(cf.EXAMPLES_PATH); "
            "print(cf.facet_probabilities(['on hold for ages']).shape[1])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    path, columns = out.stdout.split()
    assert Path(path) == tmp_path / "rapport_models" / "facets" / "complaint_facets.csv"
    assert int(columns) == len(cf.LABELS)
