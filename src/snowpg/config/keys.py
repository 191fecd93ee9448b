"""The forms ``SNOWFLAKE_RSA_KEY`` / ``snowflake.rsa_key`` may take, normalized to one text.

Accepted: a PEM key (``-----BEGIN ... KEY-----``), the same with literal ``\\n`` sequences (a key
pasted into a one-line environment variable), the bare base64 body of a DER key (``MII...``, no
BEGIN/END lines, as the existing tool's ``env.example`` passes it), or the path of a key file
(PEM or DER). The result is PEM text or a bare base64 DER body; :func:`der_body` tells them apart.
No message here quotes the value: it may be key material.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")
_KEY_SUFFIXES = (".p8", ".pem", ".key", ".der")


def normalize_key_text(value: str) -> str:
    """PEM text or a bare base64 DER body; ValueError (without the value) for anything else."""
    text = value.strip().replace("\\n", "\n").strip()
    if "-----BEGIN" in text:
        return text
    if der_body(text) is not None:
        return re.sub(r"\s+", "", text)
    if _looks_like_path(text):
        return _read_key_file(Path(text).expanduser())
    raise ValueError(
        "snowflake.rsa_key is not a PEM private key (no '-----BEGIN' line): set "
        "SNOWFLAKE_RSA_KEY / snowflake.rsa_key to the contents of the .p8/.pem file, its bare "
        "base64 body or its path"
    )


def der_body(text: str) -> bytes | None:
    """The DER bytes when ``text`` is a bare base64 key body (an ASN.1 SEQUENCE), else None."""
    if "-----BEGIN" in text or len(text) < 64 or not _BASE64.match(text):
        return None
    try:
        der = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if der[:1] == b"\x30" else None


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    return text.startswith(("/", "~", "./", "../")) or text.lower().endswith(_KEY_SUFFIXES)


def _read_key_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        raise ValueError(
            "snowflake.rsa_key looks like a file path but names no readable file: check the "
            "path, or set the key's contents instead"
        ) from None
    if b"-----BEGIN" in data:
        return data.decode("utf-8", errors="replace").strip()
    body = base64.b64encode(data).decode("ascii")
    if der_body(body) is None:
        raise ValueError(
            "the file named by snowflake.rsa_key holds neither a PEM nor a DER private key"
        )
    return body
