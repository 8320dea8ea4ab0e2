"""The AWS JSON 1.0 wire protocol of Partner Central Selling, driven by botocore's own service model.

Requests are validated with botocore's ``ParamValidator`` plus the constraints it does not check (enums,
maximum lengths, patterns), so whatever the real service would refuse as malformed, the emulator refuses
the same way. Responses are projected through the operation's output shape, so a handler can return a
whole stored record and only the members the model defines go on the wire, with timestamps written in the
shape's ``timestampFormat`` (``DateTime`` is ``iso8601`` in this model, which botocore parses back to
``datetime``).

Wire format: https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html
Common errors: https://docs.aws.amazon.com/partner-central/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.session import get_session
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator, ValidationErrors

__all__ = [
    "CONTENT_TYPE",
    "TARGET_PREFIX",
    "ApiError",
    "FieldError",
    "conflict",
    "error_response",
    "iso",
    "not_found",
    "now_ms",
    "parse_params",
    "serialize",
    "service_model",
    "success_response",
    "validate_value",
    "validation_error",
]

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSPartnerCentralSelling"

# botocore's validator reasons → the model's ValidationExceptionErrorCode enum.
_REASON_CODES = {
    "missing required field": "REQUIRED_FIELD_MISSING",
    "invalid type": "INVALID_VALUE",
    "invalid range": "INVALID_VALUE",
    "invalid length": "INVALID_STRING_FORMAT",
    "unknown field": "INVALID_VALUE",
    "empty input": "REQUIRED_FIELD_MISSING",
}


@functools.cache
def service_model() -> ServiceModel:
    """botocore's bundled model of ``partnercentral-selling`` (loaded once; it is a large JSON file)."""
    return get_session().get_service_model("partnercentral-selling")


class FieldError(dict[str, str]):
    """One entry of ``ValidationException.ErrorList``."""

    def __init__(self, field: str, message: str, code: str = "INVALID_VALUE") -> None:
        super().__init__(FieldName=field, Message=message, Code=code)


class ApiError(Exception):
    """An AWS error answer: ``__type`` plus the members of the model's exception shape."""

    def __init__(self, code: str, message: str, status: int = 400, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = members


def validation_error(
    message: str, errors: list[FieldError] | None = None, reason: str = "BUSINESS_VALIDATION_FAILED"
) -> ApiError:
    return ApiError("ValidationException", message, Reason=reason, ErrorList=errors or [])


def not_found(kind: str, ident: str, catalog: str) -> ApiError:
    return ApiError("ResourceNotFoundException", f"{kind} {ident!r} was not found in catalog {catalog!r}")


def conflict(message: str) -> ApiError:
    return ApiError("ConflictException", message)


def error_response(err: ApiError) -> web.Response:
    # botocore reads the code from __type (after any '#') and the modeled members by their shape names;
    # "message" is what AWS JSON services put on the wire, "Message" is the member name in the model.
    body = {"__type": err.code, "message": err.message, "Message": err.message, **err.members}
    headers = {"x-amzn-ErrorType": err.code, "Content-Type": CONTENT_TYPE}
    return web.Response(status=err.status, text=json.dumps(body), headers=headers)


def success_response(body: dict[str, Any]) -> web.Response:
    return web.Response(status=200, text=json.dumps(body), headers={"Content-Type": CONTENT_TYPE})


def now_ms() -> datetime:
    """Now, truncated to the millisecond precision AWS timestamps carry."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# -- requests -----------------------------------------------------------------------------------------
def parse_params(op: OperationModel, raw: bytes) -> dict[str, Any]:
    """Decode and validate a request body; timestamps come back as aware ``datetime``."""
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(
                "SerializationException", f"Request body is not valid JSON: {exc}", Reason=None
            ) from None
    if not isinstance(data, dict):
        raise ApiError("SerializationException", "Request body must be a JSON object")
    shape = op.input_shape
    assert shape is not None
    return validate_value(data, shape, op.name)


def validate_value(data: Any, shape: Shape, name: str) -> Any:
    """Validate ``data`` against a model shape the way a request is; ``name`` labels a top-level error."""
    report = ValidationErrors()
    ParamValidator()._validate(data, shape, report, "")  # the public validate() raises on the first report
    errors: list[FieldError] = []
    if report.has_errors():
        for reason, path_name, kwargs in report._errors:
            # botocore names the parent for a missing or unknown member; name the member itself
            child = kwargs.get("required_name") or kwargs.get("unknown_param")
            path = f"{path_name}.{child}" if child else path_name
            errors.append(
                FieldError(
                    path.lstrip(".") or name,
                    report._format_error((reason, path_name, kwargs)),
                    _REASON_CODES.get(reason, "INVALID_VALUE"),
                )
            )
    else:
        _check_constraints(data, shape, "", errors)
    if errors:
        summary = "; ".join(e["Message"] for e in errors[:5])
        raise validation_error(f"Invalid request: {summary}", errors, reason="REQUEST_VALIDATION_FAILED")
    return _convert_timestamps(data, shape)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a few Java-only constructs; those fields are left to the other checks
        return None


def _check_constraints(value: Any, shape: Shape, path: str, errors: list[FieldError]) -> None:
    """What botocore's client-side validator leaves to the server: enums, maxima, patterns."""
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        assert isinstance(shape, StructureShape)
        for key, member in shape.members.items():
            if key in value and value[key] is not None:
                _check_constraints(value[key], member, f"{path}.{key}" if path else key, errors)
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(
                FieldError(path, f"{path} has {len(value)} items, at most {meta['max']}", "TOO_MANY_VALUES")
            )
        for i, item in enumerate(value):
            _check_constraints(item, shape.member, f"{path}[{i}]", errors)  # type: ignore[attr-defined]
    elif shape.type_name == "string" and isinstance(value, str):
        enum = shape.enum  # type: ignore[attr-defined]
        if enum and value not in enum:
            errors.append(
                FieldError(path, f"{path}: {value!r} is not one of the allowed values", "INVALID_ENUM_VALUE")
            )
        elif "max" in meta and len(value) > meta["max"]:
            errors.append(
                FieldError(path, f"{path} is longer than {meta['max']} characters", "INVALID_STRING_FORMAT")
            )
        elif "pattern" in meta:
            compiled = _pattern(meta["pattern"])
            if compiled is not None and compiled.fullmatch(value) is None:
                errors.append(
                    FieldError(path, f"{path} does not match the required format", "INVALID_STRING_FORMAT")
                )
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            errors.append(FieldError(path, f"{path} must be at most {meta['max']}", "INVALID_VALUE"))


def _convert_timestamps(value: Any, shape: Shape) -> Any:
    if value is None:
        return None
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _convert_timestamps(v, members[k]) if k in members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_convert_timestamps(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if shape.type_name == "timestamp":
        parsed = parse_timestamp(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


# -- responses ----------------------------------------------------------------------------------------
def serialize(value: Any, shape: Shape | None) -> Any:
    """Project stored Python data through an output shape into JSON-ready values; unknown keys are dropped
    and ``None`` members omitted, the way AWS omits unset members."""
    if shape is None:
        return {}
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return None
        out = {}
        for key, member in shape.members.items():  # type: ignore[attr-defined]
            if value.get(key) is not None:
                item = serialize(value[key], member)
                if item is not None:
                    out[key] = item
        return out
    if t == "list":
        return [serialize(v, shape.member) for v in value or []]  # type: ignore[attr-defined]
    if t == "map":
        return {k: serialize(v, shape.value) for k, v in (value or {}).items()}  # type: ignore[attr-defined]
    if t == "timestamp":
        if not isinstance(value, datetime):
            value = parse_timestamp(value)
        if shape.serialization.get("timestampFormat") == "iso8601":
            return iso(value)
        return value.timestamp()
    return value
