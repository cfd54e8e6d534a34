"""The JSON data formats of ETSI GS QKD 014 V1.1.1 clause 6 as pydantic models.

Names follow the spec: :class:`Status` (clause 6.1), :class:`KeyRequest` (6.2),
:class:`KeyContainer` with its :class:`Key` items (6.3), :class:`KeyIDs` with its
:class:`KeyID` items (6.4), :class:`Error` (6.5). Requests are strict: integers must be JSON
integers (not strings, floats or booleans) and unknown members are refused, so that a
misspelt field gives 400 rather than a silent default.

Examples
--------
>>> KeyRequest.model_validate({"number": 2, "size": 256}).number
2
>>> from pydantic import ValidationError
>>> try:
...     KeyRequest.model_validate({"number": "2"})
... except ValidationError as exc:
...     print(exc.errors()[0]["type"], exc.errors()[0]["loc"])
int_type ('number',)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

__all__ = ["Error", "Key", "KeyContainer", "KeyID", "KeyIDs", "KeyRequest", "Status"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Status(BaseModel):
    """Status data format (clause 6.1): what a KME can deliver for a master/slave pair."""

    source_KME_ID: str
    target_KME_ID: str
    master_SAE_ID: str
    slave_SAE_ID: str
    key_size: int
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size: int
    min_key_size: int
    max_SAE_ID_count: int
    status_extension: dict[str, Any] | None = None


class KeyRequest(_Request):
    """Key request data format (clause 6.2): the body of a POST ``enc_keys``."""

    number: StrictInt | None = None
    size: StrictInt | None = None
    additional_slave_SAE_IDs: list[StrictStr] | None = None
    extension_mandatory: list[dict[str, Any]] | None = None
    extension_optional: list[dict[str, Any]] | None = None


class Key(BaseModel):
    """One key of a Key container: its UUID and the key, base64 (clause 6.3)."""

    key_ID: str
    key_ID_extension: dict[str, Any] | None = None
    key: str
    key_extension: dict[str, Any] | None = None


class KeyContainer(BaseModel):
    """Key container data format (clause 6.3): the answer of ``enc_keys`` and ``dec_keys``."""

    keys: list[Key]
    key_container_extension: dict[str, Any] | None = None


class KeyID(_Request):
    """One key ID of a Key IDs request (clause 6.4)."""

    key_ID: StrictStr
    key_ID_extension: dict[str, Any] | None = None


class KeyIDs(_Request):
    """Key IDs data format (clause 6.4): the body of a POST ``dec_keys``."""

    key_IDs: list[KeyID]
    key_IDs_extension: dict[str, Any] | None = None


class Error(BaseModel):
    """Error data format (clause 6.5): ``message`` and optional ``details`` name/value pairs."""

    message: str
    details: list[dict[str, Any]] | None = None
