"""The Referral resource's shape and its validation, modelled on Microsoft's reference pages.

Referral resource: https://learn.microsoft.com/en-us/partner-center/developer/referral-resources
Create (required properties: type, customerProfile, consent, details):
https://learn.microsoft.com/en-us/partner-center/developer/create-a-referral

Objects whose every property the docs list are closed (an unknown property is a 400); the few whose
documented shape is loose or still growing (``target``, ``inviteContext``, ``requirements``, ``ids``) only
have their type checked, so a real client sending a newer property is not refused by the emulator.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

__all__ = [
    "READ_ONLY_FIELDS",
    "REFERRAL",
    "SUBSTATUS_BY_STATUS",
    "Spec",
    "ValidationError",
    "check_status_pair",
    "validate_new_referral",
]


class ValidationError(ValueError):
    """Bad input; ``field`` is the JSON path of the offending property (``customerProfile.name``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Spec(ABC):
    """A property's expected shape; :meth:`check` raises :class:`ValidationError` naming ``path``."""

    @abstractmethod
    def check(self, value: Any, path: str) -> None:
        """Raise :class:`ValidationError` if ``value`` does not have this shape."""


class Str(Spec):
    def check(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, str):
            raise ValidationError(path, f"The property '{path}' must be a string.")


class Bool(Spec):
    def check(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, bool):
            raise ValidationError(path, f"The property '{path}' must be a boolean.")


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class Num(Spec):
    """A number; Microsoft's own PATCH example sends ``dealValue`` as the string ``"10000"``, so a
    numeric string is accepted too."""

    def check(self, value: Any, path: str) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError(path, f"The property '{path}' must be a number.")
        if isinstance(value, str) and not _NUMBER.match(value):
            raise ValidationError(path, f"The property '{path}' must be a number, got '{value}'.")


class DateTime(Spec):
    _ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$")

    def check(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not self._ISO.match(value):
            raise ValidationError(path, f"The property '{path}' must be an ISO 8601 UTC date time string.")


@dataclass
class Enum(Spec):
    values: tuple[str, ...]

    def check(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or value not in self.values:
            allowed = ", ".join(self.values)
            raise ValidationError(path, f"The property '{path}' must be one of: {allowed}; got {value!r}.")


@dataclass
class ListOf(Spec):
    item: Spec

    def check(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            raise ValidationError(path, f"The property '{path}' must be an array.")
        for i, element in enumerate(value):
            self.item.check(element, f"{path}[{i}]")


@dataclass
class Obj(Spec):
    fields: dict[str, Spec]
    closed: bool = True

    def check(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise ValidationError(path, f"The property '{path}' must be an object.")
        for key, element in value.items():
            child = f"{path}.{key}" if path else key
            spec = self.fields.get(key)
            if spec is None:
                if self.closed:
                    raise ValidationError(
                        child, f"The property '{child}' does not exist on type '{path or 'Referral'}'."
                    )
                continue
            spec.check(element, child)


STATUSES = ("New", "Active", "Closed")
# Which substatus belongs to which status (referral-resources: ReferralStatus / ReferralSubstatus).
SUBSTATUS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "New": ("Pending", "Received"),
    "Active": ("Accepted", "Engaged"),
    "Closed": ("Declined", "Lost", "Won", "Expired"),
}

CONTACT = Obj(
    {
        "firstName": Str(),
        "lastName": Str(),
        "email": Str(),
        "phoneNumber": Str(),
        "contactPreference": Obj({}, closed=False),
    }
)
ADDRESS = Obj(
    {
        "addressLine1": Str(),
        "addressLine2": Str(),
        "city": Str(),
        "state": Str(),
        "postalCode": Str(),
        "country": Str(),
        "region": Str(),
    }
)
CUSTOMER_PROFILE = Obj(
    {
        "name": Str(),
        "address": ADDRESS,
        "size": Str(),
        "segment": Str(),
        "team": ListOf(CONTACT),
        "ids": Obj({}, closed=False),
        "isMatchingComplete": Bool(),
    }
)
DETAILS = Obj(
    {
        "dealValue": Num(),
        "currency": Str(),
        "closingDateTime": DateTime(),
        "requirements": Obj(
            {
                "industries": ListOf(Obj({}, closed=False)),
                "products": ListOf(Obj({}, closed=False)),
                "services": ListOf(Obj({}, closed=False)),
                "solutions": ListOf(Obj({}, closed=False)),
                "additionalRequirements": Obj({}, closed=False),
            },
            closed=False,
        ),
        "notes": Str(),
    }
)
CONSENT = Obj(
    {
        "consentToShareReferralWithMicrosoftSellers": Bool(),
        "consentToContact": Bool(),
        "consentToShareInfoWithOthers": Bool(),
    }
)

REFERRAL = Obj(
    {
        "id": Str(),
        "engagementId": Str(),
        "organizationId": Str(),
        "organizationName": Str(),
        "name": Str(),
        "externalReferenceId": Str(),
        "createdDateTime": DateTime(),
        "updatedDateTime": DateTime(),
        "expirationDateTime": DateTime(),
        "acceptedDateTime": DateTime(),
        "status": Enum(STATUSES),
        "substatus": Enum(tuple(s for subs in SUBSTATUS_BY_STATUS.values() for s in subs)),
        "statusReason": Str(),
        "target": Obj({}, closed=False),
        "consent": CONSENT,
        "type": Enum(("Independent", "Shared")),
        "qualification": Enum(("MarketingQualified", "SalesQualified", "Direct", "Unknown")),
        "direction": Enum(("Incoming", "Outgoing")),
        "customerProfile": CUSTOMER_PROFILE,
        "details": DETAILS,
        "team": ListOf(CONTACT),
        "inviteContext": Obj({}, closed=False),
        "partnerRole": Str(),
        "solutionArea": Str(),
        "solutionPlay": Str(),
        "eTag": Str(),
    }
)

# Set by the service; a PATCH that tries to change them is refused.
READ_ONLY_FIELDS = frozenset(
    {"id", "engagementId", "organizationId", "organizationName", "createdDateTime", "updatedDateTime", "eTag"}
)

_REQUIRED_ON_CREATE: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("type",),
    ("customerProfile",),
    ("customerProfile", "name"),
    ("consent",),
    ("details",),
)


def validate_new_referral(body: Any) -> None:
    """Shape and required properties of a create-referral body."""
    if not isinstance(body, dict):
        raise ValidationError("", "The request body must be a JSON object (a Referral).")
    REFERRAL.check(body, "")
    for path in _REQUIRED_ON_CREATE:
        node: Any = body
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None or node == "":
            dotted = ".".join(path)
            raise ValidationError(dotted, f"The property '{dotted}' is required.")
    check_status_pair(body)


def check_status_pair(referral: dict[str, Any]) -> None:
    """A substatus only makes sense under its status (``Won`` is a ``Closed`` substatus)."""
    status, substatus = referral.get("status"), referral.get("substatus")
    if status is not None and substatus is not None and substatus not in SUBSTATUS_BY_STATUS.get(status, ()):
        raise ValidationError(
            "substatus", f"The substatus '{substatus}' is not valid for the status '{status}'."
        )
