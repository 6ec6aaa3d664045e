"""``client/credentials.py``: credentials written into free text masked, with Airflow's own names.

The masker is built from the names this Airflow's secrets masker treats as sensitive
(``_compat.sensitive_key_names``), as the hook builds it; nothing here copies Airflow's list.
"""

from __future__ import annotations

import pytest

from airflow_provider_signal import _compat
from airflow_provider_signal.client.credentials import CredentialMasker, sensitive_names

LOG_URL = "http://host:8080/dags/etl/runs/r1/tasks/load?try_number=1"


@pytest.fixture(scope="module")
def masker() -> CredentialMasker:
    return CredentialMasker(_compat.sensitive_key_names())


MASKED = [
    # URL user-info, several schemes: the user kept, the password masked
    (
        "could not connect to postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse",
        "could not connect to postgresql://etl:***@db.internal:5432/warehouse",
    ),
    ("mysql+pymysql://root:hunter2@localhost/db", "mysql+pymysql://root:***@localhost/db"),
    ("redis://:r3d1s@cache:6379/0", "redis://:***@cache:6379/0"),
    ("amqp://guest:gu3st@rabbit//", "amqp://guest:***@rabbit//"),
    ("https://x-access-token:ghs_abc@github.com/o/r.git", "https://x-access-token:***@github.com/o/r.git"),
    ("sftp://me:p@ss@host/path", "sftp://me:***@host/path"),  # a raw "@" in the password
    ("'postgresql://etl:pw@db'", "'postgresql://etl:***@db'"),
    # a user-info without a password (often a token): masked whole
    ("https://ghp_0123456789abcdef@github.com/o/r.git", "https://***@github.com/o/r.git"),
    # key=value, key: value, quoted, JSON, Python reprs
    ("token=ghp_abc123", "token=***"),
    ("warehouse; token=ghp_abc123", "warehouse; token=***"),
    ("password: S3cr3t", "password: ***"),
    ("password : S3cr3t", "password : ***"),
    ('{"password": "S3cr3t"}', '{"password": "***"}'),
    ('{"password":"S3cr3t","user":"etl"}', '{"password":"***","user":"etl"}'),
    ("{'password': 'S3cr3t', 'user': 'etl'}", "{'password': '***', 'user': 'etl'}"),
    ("connect(user='etl', password='S3cr3t')", "connect(user='etl', password='***')"),
    ('password="with spaces in it" next', 'password="***" next'),
    ("secret: 'it has spaces' and more", "secret: '***' and more"),
    ('{"api_key": "a\\"b c"}', '{"api_key": "***"}'),  # an escaped quote inside the value
    ('{\\"password\\": \\"S3cr3t\\"}', '{\\"password\\": \\"***'),  # JSON inside a string: the rest masked
    ('password: "unclosed to the line end\nnext line', 'password: "***\nnext line'),
    ("private_key=-----BEGIN", "private_key=***"),
    ("Authorization: Bearer eyJhbGciOi.J9", "Authorization: Bearer ***"),
    ("?api_key=k3y&user=etl", "?api_key=***&user=etl"),
    ("PGPASSWORD=S3cr3t psql", "PGPASSWORD=*** psql"),
    ("--password=S3cr3t", "--password=***"),
    # names as parts of the key, in any case, with "-" or "." for "_"
    ("db_password=S3cr3t", "db_password=***"),
    ("DB_PASSWORD=S3cr3t", "DB_PASSWORD=***"),
    ("Password=S3cr3t", "Password=***"),
    ("x-api-key: k3y", "x-api-key: ***"),
    ("aws.secret.access.key=abc", "aws.secret.access.key=***"),
    ("client_secret_value=abc", "client_secret_value=***"),
    # several on one line, a value that holds another key
    ("user=etl password=a token=b", "user=etl password=*** token=***"),
    ("password=token=abc rest", "password=*** rest"),
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_credentials_are_masked(masker: CredentialMasker, text: str, expected: str) -> None:
    assert masker.redact(text) == expected


UNCHANGED = [
    LOG_URL,  # the link to the task's log
    "http://localhost:8080/dags/etl/runs/manual__2024-01-01T00:00:00+00:00",
    "http://host:8080/log?execution_date=2024-01-01T00%3A00%3A00%2B00%3A00&task_id=load&dag_id=etl",
    "http://host:8080/dags/rotate_token/runs/r1/tasks/refresh_secret?try_number=2",
    "http://secret-store.internal:8080/v1/health",  # a host named like a key
    "http://host:8080/api/token:refresh",  # a path named like a key
    "try_number=1 of 3",
    "a line of an ordinary error: nothing to see",
    "the password was wrong",  # no "=" or ":" after it
    "Token expired",
    "passwords",
    "user=etl host=db port=5432",
    "password=***",  # already masked
    "postgresql://etl:***@db.internal:5432/warehouse",
    "ssh git@github.com",  # no scheme: not a URL
    "mailto:ops@example.com",
    "",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_what_is_not_a_credential_is_left_as_is(masker: CredentialMasker, text: str) -> None:
    assert masker.redact(text) == text


def test_the_example_of_the_issue_keeps_its_log_link(masker: CredentialMasker) -> None:
    text = (
        "could not connect to postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse; "
        f"token=ghp_16C7e42F292c6912E7710c838347Ae178B4a\nLog: {LOG_URL}"
    )
    redacted = masker.redact(text)
    assert "S3cr3t-pw" not in redacted and "ghp_" not in redacted
    assert "etl:***@db.internal" in redacted and "token=***" in redacted
    assert redacted.endswith(f"Log: {LOG_URL}")


def test_a_non_ascii_text_is_still_read_case_blind(masker: CredentialMasker) -> None:
    # "İ" lower-cases into two characters: the search falls back to the case-blind pattern
    assert masker.redact("İstanbul PASSWORD=S3cr3t") == "İstanbul PASSWORD=***"


def test_airflow_s_names_come_from_airflow_at_run_time() -> None:
    from airflow_provider_signal._compat_runtime import FALLBACK_SENSITIVE_NAMES

    names = _compat.sensitive_key_names()
    assert {"password", "secret", "token", "api_key", "private_key"} <= names
    assert {"authorization", "passphrase"} <= names  # in Airflow's list on both lines, not in the fallback
    assert names > FALLBACK_SENSITIVE_NAMES


def test_the_user_s_own_sensitive_names_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "pin_code, ,Vault-Ref")
    from airflow_provider_signal._compat_runtime import sensitive_key_names

    masker = CredentialMasker(sensitive_key_names())
    assert masker.redact("pin_code=1234 card_pin_code: 5678") == "pin_code=*** card_pin_code: ***"
    assert masker.redact("vault-ref=abc other=1") == "vault-ref=*** other=1"


def test_blank_names_do_not_mask_every_value() -> None:
    # Airflow reads "" as a part of every key; here it would mask every "a=b".
    assert sensitive_names(["", " ", "Token", "token"]) == ["token"]
    assert CredentialMasker(["", "token"]).redact("a=b token=c") == "a=b token=***"
    assert CredentialMasker([]).redact("token=c http://u:p@h") == "token=c http://u:***@h"


def test_the_masker_s_repr_shows_no_names_and_no_text() -> None:
    assert repr(CredentialMasker(["password", "token"])) == "CredentialMasker(2 sensitive name(s))"
