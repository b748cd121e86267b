"""Placeholder until scripts/regenerate_api_examples.py runs."""
QUERY_RESPONSE = JUDGE_RESPONSE = NORM = NORMS = SETTING = SETTINGS = SOURCES = TAXONOMY = SEARCH = GROUND_RESPONSE = {}
