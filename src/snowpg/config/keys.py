"""The forms ``SNOWFLAKE_RSA_KEY`` / ``snowflake.rsa_key`` may take, normalized to one text.

Accepted: a PEM key (``-----BEGIN ... KEY-----``), the same with literal ``\\n`` sequences (a key
pasted into a one-line environment variable), the bare base64 body of a DER key (``MII...``, no
BEGIN/END lines, as the existing tool's ``env.example`` passes it), or the path of a key file
(PEM or DER). The result is PEM text or a bare base64 DER body; :func:`der_body` tells them apart,
and :func:`load_private_key_der` turns it into the DER bytes snowflake-connector takes.
No message here quotes the value: it may be key material.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from snowpg.errors import ConfigError

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


def load_private_key_der(pem: str, passphrase: str | None) -> bytes:
    """PKCS8 DER bytes of an RSA private key in PEM; errors never include key material."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    der = der_body(pem)  # a bare base64 DER body (see normalize_key_text)
    data = der if der is not None else pem.encode("utf-8")
    load = serialization.load_pem_private_key
    if der is not None:
        load = serialization.load_der_private_key
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        try:
            key = load(data, password=password)
        except TypeError:
            if password is None:
                raise ConfigError(
                    "snowflake.rsa_key is encrypted but no passphrase was given",
                    hint="set SNOWFLAKE_RSA_KEY_PASSPHRASE or snowflake.rsa_key_passphrase",
                    field="snowflake.rsa_key_passphrase",
                ) from None
            # A passphrase for an unencrypted key is harmless: use the key as it is.
            key = load(data, password=None)
    except (ValueError, UnsupportedAlgorithm):
        if password is not None:
            raise ConfigError(
                "could not decrypt snowflake.rsa_key: wrong passphrase or damaged key",
                hint="check SNOWFLAKE_RSA_KEY_PASSPHRASE / snowflake.rsa_key_passphrase",
                field="snowflake.rsa_key_passphrase",
            ) from None
        raise ConfigError(
            "snowflake.rsa_key could not be read as a PEM private key (damaged or truncated)",
            hint="set SNOWFLAKE_RSA_KEY / snowflake.rsa_key to the full contents of the key file",
            field="snowflake.rsa_key",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            "snowflake.rsa_key is not an RSA key; Snowflake key-pair authentication needs RSA",
            field="snowflake.rsa_key",
        )
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
