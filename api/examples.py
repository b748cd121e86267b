"""Example requests for the OpenAPI document; the responses are what the app answered to them over the
sample corpus (`api/example_responses.json`, written by `scripts/regenerate_api_examples.py`)."""

import json
from importlib import resources

_RESPONSES = json.loads(resources.files("api").joinpath("example_responses.json").read_text(encoding="utf-8"))
QUERY_RESPONSE, JUDGE_RESPONSE = _RESPONSES["QUERY_RESPONSE"], _RESPONSES["JUDGE_RESPONSE"]
NORM, NORMS, SETTINGS, SETTING = _RESPONSES["NORM"], _RESPONSES["NORMS"], _RESPONSES["SETTINGS"], _RESPONSES["SETTING"]
TAXONOMY, SOURCES, SEARCH = _RESPONSES["TAXONOMY"], _RESPONSES["SOURCES"], _RESPONSES["SEARCH"]
GROUND_RESPONSE = _RESPONSES["GROUND_RESPONSE"]
# .get: the regeneration script imports this module before it has written them.
IMPORT_JOB, IMPORT_JOBS, REMOVAL = (_RESPONSES.get(name, {}) for name in ("IMPORT_JOB", "IMPORT_JOBS", "REMOVAL"))


QUERY_REQUESTS = {
    "one behaviour": {
        "summary": "Drinking alcohol, for a middle-aged customer",
        "value": {"setting": "restaurant", "behavior": "drink alcohol",
                  "person": {"role": "customer", "attributes": {"age bracket": "middle-aged adult"}}},
    },
    "teen customer": {
        "summary": "A teenage customer in a restaurant",
        "value": {"setting": "restaurant", "person": {"role": "customer", "attributes": {"age bracket": "teen"}},
                  "limit": 5},
    },
}
JUDGE_REQUESTS = {
    "teen customer": {
        "summary": "May a teenage customer drink alcohol in a restaurant?",
        "value": {"setting": "restaurant", "behavior": "drink alcohol",
                  "person": {"role": "customer", "attributes": {"age bracket": "teen"}}},
    },
}
GROUND_REQUESTS = {
    "restaurant": {
        "summary": "A teenager orders a beer at a restaurant",
        "value": {"situation": "A 16-year-old customer at a sushi place asks the waiter for a beer.",
                  "setting": "sushi place", "person": {"role": "customer", "attributes": {"age bracket": "teen"}},
                  "k": 3},
    },
}
SEARCH_QUERY = {"q": "tipping in Japan", "k": 3}
