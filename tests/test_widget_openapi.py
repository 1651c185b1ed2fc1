"""The widget's part of /api/v1/openapi.json, checked by schemathesis from an allowed origin.

The read API's schema test calls these endpoints without an Origin (so every write
is a 403); here the requests come from a partner page, so the documented bodies,
statuses and errors of real writes are exercised too.
"""

import pytest
from hypothesis import HealthCheck, given, settings

from survey.widget.operations import add_origins
from survey.widget.openapi import PATHS, SCHEMAS
from tests.widget_support import PARTNER

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

WIDGET_OPERATIONS = {"GET /api/v1/surveys/{public_key}/widget", "POST /api/v1/surveys/{public_key}/responses",
                     "PATCH /api/v1/surveys/{public_key}/responses/{response_id}"}


@pytest.fixture
def app_config(app_config):
    app_config.update(WIDGET_RATE_LIMIT=None, WIDGET_CONFIG_RATE_LIMIT=None)
    return app_config


def test_fragment_is_self_contained():
    """Every $ref in PATHS points into SCHEMAS, so the fragment merges into any document."""
    import json
    import re

    refs = set(re.findall(r'"#/components/schemas/([A-Za-z]+)"', json.dumps([PATHS, SCHEMAS])))
    read_api = {"AnswerPage", "Error"}  # the read API's GET shares the answers path
    assert refs - read_api <= set(SCHEMAS)


def test_widget_endpoints_match_the_document(app, make_survey):
    survey = make_survey("nps")
    add_origins(survey, [PARTNER])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    mine = [operation for operation in operations if operation.label in WIDGET_OPERATIONS]
    assert {operation.label for operation in mine} == WIDGET_OPERATIONS
    for operation in mine:
        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                         HealthCheck.function_scoped_fixture])
        def run(case):
            case.path_parameters["public_key"] = survey.public_key
            # A score the schema allows may still be off this survey's scale: 422 is right there.
            case.call_and_validate(headers={"Origin": PARTNER}, excluded_checks=[positive_data_acceptance])

        run()
