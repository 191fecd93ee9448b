"""TROUBLESHOOTING.md quotes snowpg's own error texts: each quoted fragment is still in the code."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TROUBLESHOOTING = (ROOT / "docs" / "TROUBLESHOOTING.md").read_text()
SOURCE = "\n".join(p.read_text() for p in (ROOT / "src" / "snowpg").rglob("*.py"))

# The fixed parts of messages quoted in TROUBLESHOOTING.md, as written in the code.
FRAGMENTS = [
    "check POSTGRES_HOST and POSTGRES_PORT and that the server is up; on AWS Lambda check the ",
    "function's VPC subnets and that the database's security group allows it",
    "check POSTGRES_USER, POSTGRES_PASSWORD and the database name, and that pg_hba.conf lets ",
    "snowflake.rsa_key is not a PEM private key (no '-----BEGIN' line): set ",
    "snowflake.rsa_key could not be read as a PEM private key (damaged or truncated)",
    "set SNOWFLAKE_RSA_KEY / snowflake.rsa_key to the full contents of the key file",
    "snowflake.rsa_key is encrypted but no passphrase was given",
    "could not decrypt snowflake.rsa_key: wrong passphrase or damaged key",
    "snowflake.rsa_key is not an RSA key; Snowflake key-pair authentication needs RSA",
    "Snowflake rejected the login",
    "Snowflake could not be reached; retry later",
    "already has rows; a fresh load would duplicate them",
    "yourself, or leave it out with --tables",
    "was started with a different ",
    "restore the configuration it was started with",
    "fix the errors above and run the same command again to retry them",
    "chunk failed for good: ",
    "after backoff",
    "more work remains — run the same command again to continue",
    "MiB unzipped; with the function code ",
    "trim more packages (see snowpg.aws.layer.TRIM_PATTERNS) or deploy a container ",
    "token required",
    "cannot read status: ",
]


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_quoted_error_text_is_in_the_code_and_the_doc(fragment: str) -> None:
    flat_doc = " ".join(TROUBLESHOOTING.split())
    assert " ".join(fragment.split()) in flat_doc, f"TROUBLESHOOTING.md lost: {fragment!r}"
    assert fragment in SOURCE, (
        f"the code no longer prints: {fragment!r} — update TROUBLESHOOTING.md"
    )


def test_troubleshooting_covers_the_seeds_list() -> None:
    for heading in (
        "## PostgreSQL is unreachable",
        "## Snowflake key format",
        "## Out of memory",
        "## Step Functions timeout",
        "## Deployment package too large",
        "## Refused: the target table already has rows",
        "## Refused: the configuration changed",
        "## Failed chunks",
    ):
        assert heading in TROUBLESHOOTING
