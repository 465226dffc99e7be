from __future__ import annotations

from perfopt.urls import mask_tree, mask_url


def test_url_passwords_are_masked_anywhere_in_text():
    text = "cannot reach postgresql+psycopg://bob:s3cr%40t@db:5432/x; retry redis://:pw@h:6379/0"
    masked = mask_url(text)
    assert "s3cr" not in masked and ":pw@" not in masked
    assert "postgresql+psycopg://bob:***@db:5432/x" in masked
    assert mask_url("sqlite:///studies/a.db") == "sqlite:///studies/a.db"


def test_key_value_passwords_and_nested_values_are_masked():
    tree = {"dsn": "host=db password=hunter2 user=x", "args": ["--storage", "postgresql://u:p@h/d"]}
    masked = mask_tree(tree)
    assert masked == {"dsn": "host=db password=*** user=x", "args": ["--storage", "postgresql://u:***@h/d"]}
