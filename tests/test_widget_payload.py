"""Property-based tests of the widget payload parser, and of the API fed the same bodies."""

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from survey.textrules import text_problem
from survey.widget.payload import (
    NEW_ANSWER_FIELDS, UPDATE_FIELDS, PayloadError, Scale, bot_reason, decode_json, parse_answer_update,
    parse_new_answer,
)

SCALES = [Scale(0, 10, 5000), Scale(1, 5, 5000), Scale(1, 7, 300)]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
field_names = st.sampled_from(NEW_ANSWER_FIELDS + UPDATE_FIELDS) | st.text(max_size=10)
bodies = st.dictionaries(field_names, json_values, max_size=8) | json_values
meta_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
def storable(text: str) -> bool:
    """Text the rule every channel shares accepts (survey.textrules)."""
    return text_problem(text) is None


meta_values = st.text(max_size=60).filter(storable) | st.integers(-10**6, 10**6)


@pytest.fixture
def ctx(app):
    return app


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, scale=st.sampled_from(SCALES))
def test_any_json_either_parses_or_gets_a_400_or_422(ctx, body, scale):
    for parse in (parse_new_answer, parse_answer_update):
        try:
            parsed = parse(body, scale)
        except PayloadError as exc:
            assert exc.status in (400, 422) and exc.message
            assert exc.field is None or isinstance(exc.field, str) and len(exc.field) <= 64
            continue
        # Whatever gets through is on the scale and safe for every database.
        assert parsed.score is None or (scale.low <= parsed.score <= scale.high and type(parsed.score) is int)
        assert parsed.comment is None or (0 < len(parsed.comment) <= scale.comment_max_length
                                          and storable(parsed.comment) and parsed.comment == parsed.comment.strip())
        assert parsed.score is not None or parsed.comment is not None
        if parse is parse_new_answer:
            assert isinstance(parsed.elapsed_ms, int) and parsed.elapsed_ms >= 0
            assert all(isinstance(v, str) and storable(v) and storable(k) for k, v in parsed.meta.items())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scale=st.sampled_from(SCALES), data=st.data(),
       comment=st.none() | st.text(max_size=300), meta=st.dictionaries(meta_names, meta_values, max_size=20),
       elapsed=st.integers(0, 10**9), key=st.none() | st.text(alphabet="abcdefABCDEF0123456789", min_size=32,
                                                              max_size=32))
def test_valid_answers_come_through_unchanged(ctx, scale, data, comment, meta, elapsed, key):
    score = data.draw(st.none() | st.integers(scale.low, scale.high))
    assume(comment is None or storable(comment))
    assume(score is not None or (comment or "").strip())
    body = {"score": score, "comment": comment, "elapsed_ms": elapsed, "meta": meta, "submission_key": key}
    parsed = parse_new_answer(json.loads(json.dumps(body)), scale)
    assert parsed.score == score
    assert parsed.comment == ((comment or "").strip() or None)
    assert parsed.meta == {name.lower(): str(value) for name, value in meta.items()}
    assert parsed.elapsed_ms == elapsed and parsed.submission_key == key and not parsed.honeypot_filled


@given(scale=st.sampled_from(SCALES), score=st.integers())
def test_scores_off_the_scale_are_422_on_the_scale_pass(scale, score):
    body = {"score": score, "elapsed_ms": 5000}
    if scale.low <= score <= scale.high:
        assert parse_new_answer(body, scale).score == score
    else:
        with pytest.raises(PayloadError) as caught:
            parse_new_answer(body, scale)
        assert (caught.value.status, caught.value.field) == (422, "score")


@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_decoding_any_bytes_gives_json_or_a_400(data):
    try:
        decode_json(data)
    except PayloadError as exc:
        assert exc.status == 400 and exc.field is None


@given(honeypot=st.booleans(), elapsed=st.none() | st.integers(0, 10**6), minimum=st.integers(0, 10**5))
def test_bot_reason(honeypot, elapsed, minimum):
    reason = bot_reason(honeypot, elapsed, minimum)
    if honeypot:
        assert reason == "honeypot"
    elif elapsed is not None and elapsed < minimum:
        assert reason == "too_fast"
    else:
        assert reason is None


@pytest.fixture
def app_config(app_config):
    app_config["WIDGET_RATE_LIMIT"] = None  # hundreds of requests from one test client
    return app_config


near_valid = st.fixed_dictionaries(
    {"score": st.integers(0, 6) | json_scalars, "elapsed_ms": st.integers(0, 10**5) | json_scalars},
    optional={"comment": st.text(max_size=40) | json_scalars, "website": st.sampled_from([None, "", "x", 0]),
              "meta": st.dictionaries(meta_names | st.text(max_size=5), meta_values | json_values, max_size=3),
              "page_url": st.text(max_size=40) | st.just("https://shop.example.com/a?b=1"),
              "submission_key": st.text(max_size=40) | st.uuids().map(lambda u: u.hex)},
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=near_valid | st.dictionaries(field_names, json_values, max_size=8) | json_values)
def test_the_api_never_fails_on_any_json_body(app, client, make_survey, body):
    """Whatever JSON arrives: 201 and one stored answer, or a 400/422 JSON error and nothing stored."""
    from tests.widget_support import PARTNER, answers, answers_url

    survey = getattr(app, "_payload_survey", None)
    if survey is None:
        from survey.widget.operations import add_origins

        survey = app._payload_survey = make_survey("csat")
        add_origins(survey, [PARTNER])
    before = len(answers())
    got = client.post(answers_url(survey), data=json.dumps(body), content_type="application/json",
                      headers={"Origin": PARTNER})
    assert got.status_code in (201, 400, 422), got.get_data(as_text=True)
    stored = len(answers()) - before
    if got.status_code == 201 and body.get("website") in (None, "") \
            and body["elapsed_ms"] >= app.config["WIDGET_MIN_ANSWER_MS"]:
        assert stored == 1
    else:
        assert stored == 0
