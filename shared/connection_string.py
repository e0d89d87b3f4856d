"""Hosts and connection strings (`Key=value;...`), read one way for the settings, the transport and the table client.

A connection string carries a secret, so the bridge accepts one only for a local emulator on loopback:
Azurite's well-known account, or the Service Bus emulator. Nothing here quotes a value.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from urllib.parse import urlsplit

# Azurite's account; its key is public (learn.microsoft.com/azure/storage/common/storage-use-azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
_AZURITE_DEFAULT = (
    f"AccountName={AZURITE_ACCOUNT};TableEndpoint=http://127.0.0.1:10002/{AZURITE_ACCOUNT};"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def connection_fields(connection_string: str) -> dict[str, str]:
    """The fields by lower-case name; UseDevelopmentStorage=true reads as Azurite's default string."""
    fields = {
        key.strip().lower(): value.strip()
        for key, _, value in (part.partition("=") for part in connection_string.split(";"))
        if value.strip()
    }
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        return connection_fields(_AZURITE_DEFAULT)
    return fields


HOST_NAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def is_host(host: str) -> bool:
    """A DNS host name or an IP address (urllib3 gives an IPv6 one without its brackets)."""
    if HOST_NAME.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def azurite_fields(connection_string: str) -> dict[str, str] | None:
    """The fields of a string for Azurite's account on a loopback table endpoint, with its key; else None."""
    fields = connection_fields(connection_string)
    if fields.get("accountname") != AZURITE_ACCOUNT or not is_loopback(_host(fields.get("tableendpoint", ""))):
        return None
    try:
        base64.b64decode(fields.get("accountkey", ""), validate=True)
    except ValueError:  # binascii.Error, or a plain ValueError for a character beyond ASCII
        return None
    return fields if fields.get("accountkey") else None


def is_service_bus_emulator(connection_string: str) -> bool:
    """The emulator's development string: the flag alone would let a real namespace's secret through, so the
    endpoint must be this machine too."""
    fields = connection_fields(connection_string)
    return fields.get("usedevelopmentemulator", "").lower() == "true" and is_loopback(_host(fields.get("endpoint", "")))


def _host(url: str) -> str:
    """The URL's host, or "" where it has none that can be read (urlsplit's own error would quote the URL)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
