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


# ---- property tests: generated URLs and command lines (hypothesis) ----

import string  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from perfopt.urls import MASK, is_secret_name, mask_argv, mask_file, mask_secrets  # noqa: E402

SCHEMES = st.sampled_from(
    ["postgresql", "postgresql+psycopg", "postgres", "mysql+pymysql", "redis", "https", "amqp"]
)
USERS = st.text(string.ascii_letters + string.digits + "_.", max_size=10)
HOSTS = st.text(string.ascii_lowercase + string.digits + ".", min_size=1, max_size=15)
# Any printable character but whitespace and quotes: '/', '@', ':', '%', '#', '?', '=', '-'.
PASSWORDS = st.text(
    "".join(c for c in string.printable if c not in string.whitespace + "'\""), min_size=1
)
ANY_PASSWORD = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1)
TAILS = st.sampled_from(["", ":5432", ":5432/optuna", "/db", "/db?sslmode=require"])


def url(scheme: str, user: str, password: str, host: str, tail: str) -> str:
    return f"{scheme}://{user}:{password}@{host}{tail}"


@settings(max_examples=300)
@given(SCHEMES, USERS, PASSWORDS, HOSTS, TAILS)
def test_any_url_password_is_masked_in_text(scheme, user, password, host, tail):
    text = f"cannot reach {url(scheme, user, password, host, tail)} (retry 3)"
    masked = mask_secrets(text)
    assert masked == f"cannot reach {url(scheme, user, MASK, host, tail)} (retry 3)"
    assert mask_secrets(masked) == masked


@settings(max_examples=300)
@given(SCHEMES, USERS, ANY_PASSWORD, HOSTS, TAILS, PASSWORDS, PASSWORDS)
def test_argv_hides_url_passwords_and_secret_flag_values(
    scheme, user, password, host, tail, flag_value, inline_value
):
    argv = ["python", "job.py", url(scheme, user, password, host, tail),
            "--password", flag_value, f"--api-token={inline_value}", "--n", "3"]  # fmt: skip
    assert mask_argv(argv) == [
        "python", "job.py", url(scheme, user, MASK, host, tail),
        "--password", MASK, f"--api-token={MASK}", "--n", "3",
    ]  # fmt: skip


@given(st.sampled_from(["password", "PGPASSWORD", "api-key", "x_api_key", "secret", "token",
                        "AWS_SECRET_ACCESS_KEY", "auth_token", "passwd", "key"]),
       PASSWORDS.filter(lambda v: "&" not in v and ";" not in v and "," not in v))  # fmt: skip
def test_secret_key_value_pairs_are_masked(key, value):
    assert is_secret_name(key)
    assert mask_secrets(f"run with {key}={value} now") == f"run with {key}={MASK} now"
    assert mask_tree({"env": {key: value}}) == {"env": {key: MASK}}


def test_names_that_are_not_secrets_keep_their_values():
    for name in ("top_k", "monkey", "tokenizer", "author", "n_trials", "keep"):
        assert not is_secret_name(name), name
    assert mask_secrets("top_k=10 tokenizer=bert --n-trials 20") == (
        "top_k=10 tokenizer=bert --n-trials 20"
    )


def test_secret_environment_values_are_masked_wherever_they_appear(monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSWORD", "hunter2-x")
    monkeypatch.setenv("OPTUNA_STORAGE_URL", "postgresql://u:s3cr3t/pw@h/db")
    assert mask_secrets("auth failed for hunter2-x; s3cr3t/pw rejected") == (
        f"auth failed for {MASK}; {MASK} rejected"
    )
    log = tmp_path / "pyspy.txt"
    log.write_text('process 1:"python job.py --password hunter2-x";main (job.py:1) 3\n')
    mask_file(log)
    assert "hunter2-x" not in log.read_text() and "--password ***" in log.read_text()


TEXT_VALUES = st.text(
    "".join(c for c in string.printable if c not in string.whitespace + "'\"&;,"), min_size=1
).filter(lambda v: not v.startswith("--"))


@settings(max_examples=200)
@given(st.lists(st.tuples(USERS, PASSWORDS, HOSTS, TEXT_VALUES, TEXT_VALUES), min_size=1,
                max_size=4))  # fmt: skip
def test_command_lines_in_a_text_file_are_masked_line_by_line(rows):
    """py-spy's raw file: one quoted command line per process, code with quotes in it."""

    def line(user, password, host, flag, token):
        return (f'process 7:"python -c print(\'a=\' + x) postgresql://{user}:{password}@{host}/db '
                f'--password {flag} --api-token={token}";<module> (<string>:1) 3')  # fmt: skip

    text = "\n".join(line(*row) for row in rows)
    expected = "\n".join(line(user, MASK, host, MASK, MASK) for user, _, host, _, _ in rows)
    assert mask_secrets(text) == expected
