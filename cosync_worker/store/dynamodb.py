"""The state store on DynamoDB (aiobotocore), for several replicas: one table, single-table design.

Every item has two string keys, ``pk`` (partition) and ``sk`` (sort); ``expires_at`` (epoch seconds, number)
is the table's TTL attribute. Item shapes:

=====================  ===============================  ==================================================
pk                     sk                               attributes
=====================  ===============================  ==================================================
``key#<key>``          ``key``                          ``expires_at`` (N, TTL)
``cursor#<name>``      ``cursor``                       ``value`` (S), ``updated_at`` (N)
``state#<object_key>`` ``state``                        ``data`` (S, JSON), ``updated_at`` (N)
``bucket#<budget>``    ``bucket``                       ``tokens`` (N), ``updated_at`` (N), ``version`` (N)
``record#<key>``       ``record``                       ``data`` (S, JSON), ``version`` (N), ``updated_at`` (N)
``lease#<name>``       ``lease``                        ``owner`` (S), ``expires_at`` (N, TTL)
``index#<index>``      ``<member>``                     ``data`` (S, JSON)
``auditseq#<obj_key>`` ``counter``                      ``seq`` (N, atomic ``ADD seq :1``)
``audit#<object_key>`` ``<seq, 20 digits zero-padded>`` ``system``, ``action``, ``detail`` (S, JSON),
                                                        ``actor`` (S), ``at`` (N), ``seq`` (N),
                                                        ``expires_at`` (N, TTL: ``at`` + audit retention)
=====================  ===============================  ==================================================

How each operation stays atomic across replicas:

* ``claim_key`` is a conditional ``PutItem`` (``attribute_not_exists(pk) OR expires_at <= :now``). DynamoDB's
  TTL deletes expired items lazily (typically within days), so expiry is checked in the condition and on
  every read, never left to TTL.
* ``take_tokens`` reads the bucket with a consistent read, computes the draw and writes it back with a
  condition on the ``version`` it read (optimistic concurrency); a ``ConditionalCheckFailedException`` means
  another replica drew in between, so it re-reads and retries. A draw that must wait writes nothing.
* ``write_versioned`` is a ``PutItem`` conditioned on the ``version`` that was read (``attribute_not_exists``
  for version 0); a failed condition is a :class:`ConflictError`.
* ``acquire_lease`` is a ``PutItem`` conditioned on the lease being absent, expired or already ours;
  ``renew_lease`` and ``release_lease`` are conditioned on the owner, so only the holder can extend or free it.
  Expiry is in the condition (TTL only tidies up expired leases later).
* ``index_add``/``index_remove`` put or delete one item per member; ``index_members`` is one ``Query`` of the
  index's partition (paged), so no member's write ever rewrites another's.
* ``append_audit`` takes the next number from the object's counter item (``UpdateItem ADD``) and writes the
  entry under it, so a trail is one ``Query`` in sort-key order (a page starts after the caller's last ``seq``
  with ``sk > :after``). A crash between the two calls leaves a gap in the numbers, never a duplicate. Each
  entry carries ``expires_at`` = ``at`` + the audit retention, so TTL deletes it then; until TTL gets to it a
  read filters it out on ``at``.

Sequence numbers are per object (the counter is per ``object_key``), so no single item is hot.

API shapes: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html (TTL deletes lazily).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from typing import Any

from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from ..aws_client import OwnedClient
from .base import AuditEntry, ConflictError, Lease, StoreUnavailable, Versioned
from .budget import Clock, check_bucket_args, draw
from .primitives import check_index_args, check_lease_args, check_version
from .retention import AUDIT_RETENTION_SECONDS, check_retention

__all__ = ["DynamoStore", "create_table"]

_CONNECT_TIMEOUT, _READ_TIMEOUT = 5, 15
_SEQ_WIDTH = 20  # digits of the audit sort key: any int64 fits, so string order is numeric order
_BUCKET_RETRIES = 50
_BATCH_GET, _BATCH_WRITE = 100, 25  # DynamoDB's per-call limits for BatchGetItem / BatchWriteItem


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float | int) -> dict[str, str]:
    # repr() round-trips a float exactly; DynamoDB numbers carry 38 significant digits.
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(pk), "sk": _s(sk)}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoStore:
    """The ``Store`` protocol on one DynamoDB table (see the module docstring). ``await open()`` before use.

    The table must exist (:func:`create_table`, or the CDK stack); ``ping`` says so if it does not.
    """

    def __init__(
        self,
        table_name: str,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        session: AioSession | None = None,
        max_attempts: int = 3,
        clock: Clock = time.time,
        audit_retention_seconds: float = AUDIT_RETENTION_SECONDS,
    ) -> None:
        """``clock`` is the wall clock of expiries, timestamps and buckets (compared across replicas, hence
        not monotonic); tests pass one they move instead of sleeping."""
        if not table_name:
            raise ValueError("DynamoDB table name must not be empty")
        check_retention(audit_retention_seconds)
        self.audit_retention_seconds = audit_retention_seconds
        self.table_name = table_name
        self.region = region
        self.endpoint_url = endpoint_url
        self._clock = clock
        timeouts = (_CONNECT_TIMEOUT, _READ_TIMEOUT)
        self._aws = OwnedClient(
            "dynamodb", region, endpoint_url, session, max_attempts=max_attempts, timeouts=timeouts
        )

    async def open(self) -> None:
        """Create the client; does not call AWS (use :meth:`ping` to check the table)."""
        await self._aws.open()

    async def close(self) -> None:
        await self._aws.close()

    async def _call(self, operation: str, *, conditional: bool = False, **kwargs: Any) -> Any:
        """Call DynamoDB; a failed condition re-raises as ``ClientError`` when ``conditional``, else
        bad input becomes ``ValueError`` and everything else :class:`StoreUnavailable`."""
        if self._aws.client is None:
            raise StoreUnavailable(f"DynamoDB store {self.table_name} is not open")
        try:
            return await getattr(self._aws.client, operation)(**kwargs)
        except ClientError as exc:
            code = _error_code(exc)
            if conditional and code == "ConditionalCheckFailedException":
                raise
            if code == "ValidationException":
                raise ValueError(f"DynamoDB {operation} on {self.table_name}: {exc}") from None
            if code == "ResourceNotFoundException":
                raise StoreUnavailable(f"DynamoDB table {self.table_name} does not exist") from None
            raise StoreUnavailable(f"DynamoDB {operation} on {self.table_name}: {exc}") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(f"DynamoDB {operation} on {self.table_name}: {exc}") from None

    async def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        resp = await self._call("get_item", TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True)
        item: dict[str, Any] | None = resp.get("Item")
        return item

    # -- idempotency keys -------------------------------------------------------------------------
    async def claim_key(self, key: str, ttl_seconds: float) -> bool:
        _check_ttl(ttl_seconds)
        now = self._clock()
        try:
            await self._call(
                "put_item",
                conditional=True,
                TableName=self.table_name,
                Item={**_key(f"key#{key}", "key"), "expires_at": _n(now + ttl_seconds)},
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": _n(now)},
            )
        except ClientError:
            return False  # only ConditionalCheckFailedException reaches here: someone holds the key
        return True

    async def has_key(self, key: str) -> bool:
        item = await self._get(f"key#{key}", "key")
        return item is not None and float(item["expires_at"]["N"]) > self._clock()

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(keys))  # BatchGetItem rejects duplicate keys in one request
        now = self._clock()
        for start in range(0, len(unique), _BATCH_GET):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [_key(f"key#{k}", "key") for k in unique[start : start + _BATCH_GET]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, expires_at",
                }
            }
            for attempt in range(10):
                resp = await self._call("batch_get_item", RequestItems=request)
                for item in resp.get("Responses", {}).get(self.table_name, []):
                    if float(item["expires_at"]["N"]) > now:
                        found.add(item["pk"]["S"].removeprefix("key#"))
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                await asyncio.sleep(_backoff(attempt))
            else:
                raise StoreUnavailable(f"DynamoDB {self.table_name}: keys left unprocessed after retries")
        return found

    async def record_keys(self, keys: Sequence[str], ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        expires = _n(self._clock() + ttl_seconds)
        unique = list(dict.fromkeys(keys))  # BatchWriteItem rejects duplicate keys in one request
        for start in range(0, len(unique), _BATCH_WRITE):
            writes = [
                {"PutRequest": {"Item": {**_key(f"key#{k}", "key"), "expires_at": expires}}}
                for k in unique[start : start + _BATCH_WRITE]
            ]
            await self._batch_write(writes)

    async def _batch_write(self, writes: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {self.table_name: writes}
        for attempt in range(10):
            resp = await self._call("batch_write_item", RequestItems=request)
            request = resp.get("UnprocessedItems") or {}
            if not request:
                return
            await asyncio.sleep(_backoff(attempt))
        raise StoreUnavailable(f"DynamoDB {self.table_name}: writes left unprocessed after retries")

    async def release_key(self, key: str) -> None:
        await self._call("delete_item", TableName=self.table_name, Key=_key(f"key#{key}", "key"))

    # -- cursors and state ------------------------------------------------------------------------
    async def get_cursor(self, name: str) -> str | None:
        item = await self._get(f"cursor#{name}", "cursor")
        return None if item is None else str(item["value"]["S"])

    async def set_cursor(self, name: str, value: str) -> None:
        await self._call(
            "put_item",
            TableName=self.table_name,
            Item={**_key(f"cursor#{name}", "cursor"), "value": _s(value), "updated_at": _n(self._clock())},
        )

    async def get_state(self, object_key: str) -> dict[str, Any] | None:
        item = await self._get(f"state#{object_key}", "state")
        return None if item is None else dict(json.loads(item["data"]["S"]))

    async def put_state(self, object_key: str, state: dict[str, Any]) -> None:
        await self._call(
            "put_item",
            TableName=self.table_name,
            Item={
                **_key(f"state#{object_key}", "state"),
                "data": _s(json.dumps(state, default=str)),
                "updated_at": _n(self._clock()),
            },
        )

    # -- versioned records and leases --------------------------------------------------------------
    async def read_versioned(self, key: str) -> Versioned:
        item = await self._get(f"record#{key}", "record")
        if item is None:
            return Versioned(None, 0)
        return Versioned(dict(json.loads(item["data"]["S"])), int(item["version"]["N"]))

    async def write_versioned(self, key: str, value: dict[str, Any], expected_version: int) -> int:
        check_version(key, expected_version)
        first = expected_version == 0
        try:
            await self._call(
                "put_item",
                conditional=True,
                TableName=self.table_name,
                Item={
                    **_key(f"record#{key}", "record"),
                    "data": _s(json.dumps(value, default=str)),
                    "version": _n(expected_version + 1),
                    "updated_at": _n(self._clock()),
                },
                ConditionExpression="attribute_not_exists(pk)" if first else "version = :v",
                **({} if first else {"ExpressionAttributeValues": {":v": _n(expected_version)}}),
            )
        except ClientError:
            raise ConflictError(key, expected_version) from None
        return expected_version + 1

    async def index_add(self, index: str, member: str, value: dict[str, Any]) -> None:
        check_index_args(index, member)
        await self._call(
            "put_item",
            TableName=self.table_name,
            Item={**_key(f"index#{index}", member), "data": _s(json.dumps(value, default=str))},
        )

    async def index_remove(self, index: str, member: str) -> None:
        check_index_args(index, member)
        await self._call("delete_item", TableName=self.table_name, Key=_key(f"index#{index}", member))

    async def index_members(self, index: str, limit: int = 10_000) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            page: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            resp = await self._call(
                "query",
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _s(f"index#{index}")},
                ConsistentRead=True,
                Limit=limit - len(found),
                **page,
            )
            found += [(i["sk"]["S"], dict(json.loads(i["data"]["S"]))) for i in resp.get("Items", [])]
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return found

    async def _lease_write(self, operation: str, **kwargs: Any) -> bool:
        try:
            await self._call(operation, conditional=True, TableName=self.table_name, **kwargs)
        except ClientError:
            return False  # only ConditionalCheckFailedException reaches here: held by someone else
        return True

    async def acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        check_lease_args(name, owner, ttl_seconds)
        now = self._clock()
        taken = await self._lease_write(
            "put_item",
            Item={**_key(f"lease#{name}", "lease"), "owner": _s(owner), "expires_at": _n(now + ttl_seconds)},
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now OR #o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":now": _n(now), ":owner": _s(owner)},
        )
        return Lease(name, owner, now + ttl_seconds) if taken else None

    async def renew_lease(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        check_lease_args(name, owner, ttl_seconds)
        now = self._clock()
        renewed = await self._lease_write(
            "update_item",
            Key=_key(f"lease#{name}", "lease"),
            UpdateExpression="SET expires_at = :until",
            ConditionExpression="#o = :owner AND expires_at > :now",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":now": _n(now), ":owner": _s(owner), ":until": _n(now + ttl_seconds)},
        )
        return Lease(name, owner, now + ttl_seconds) if renewed else None

    async def release_lease(self, name: str, owner: str) -> bool:
        return await self._lease_write(
            "delete_item",
            Key=_key(f"lease#{name}", "lease"),
            ConditionExpression="#o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":owner": _s(owner)},
        )

    # -- shared rate budgets ----------------------------------------------------------------------
    async def take_tokens(
        self, budget: str, rate_per_second: float, capacity: float, tokens: float = 1.0
    ) -> float:
        check_bucket_args(budget, rate_per_second, capacity, tokens)
        key = _key(f"bucket#{budget}", "bucket")
        for attempt in range(_BUCKET_RETRIES):
            item = await self._get(f"bucket#{budget}", "bucket")
            now = self._clock()
            if item is None:
                level, updated, version = None, 0.0, 0
            else:
                level = float(item["tokens"]["N"])
                updated = float(item["updated_at"]["N"])
                version = int(item["version"]["N"])
            new_level, wait = draw(level, updated, now, rate_per_second, capacity, tokens)
            if wait > 0:
                return wait
            condition = "attribute_not_exists(pk)" if item is None else "version = :v"
            values = None if item is None else {":v": _n(version)}
            try:
                await self._call(
                    "put_item",
                    conditional=True,
                    TableName=self.table_name,
                    Item={
                        **key,
                        "tokens": _n(float(new_level)),
                        "updated_at": _n(now),
                        "version": _n(version + 1),
                    },
                    ConditionExpression=condition,
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
            except ClientError:
                # Another replica drew between our read and write: re-read its result and try again.
                await asyncio.sleep(_backoff(attempt, base=0.002, cap=0.05))
                continue
            return 0.0
        # Heavy contention: report a short wait instead of failing, so acquire() simply tries again.
        return 0.05

    # -- audit log --------------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> int:
        resp = await self._call(
            "update_item",
            TableName=self.table_name,
            Key=_key(f"auditseq#{entry.object_key}", "counter"),
            UpdateExpression="ADD seq :one",
            ExpressionAttributeValues={":one": _n(1)},
            ReturnValues="UPDATED_NEW",
        )
        seq = int(resp["Attributes"]["seq"]["N"])
        at = float(entry.at or self._clock())
        await self._call(
            "put_item",
            TableName=self.table_name,
            Item={
                **_key(f"audit#{entry.object_key}", str(seq).zfill(_SEQ_WIDTH)),
                "system": _s(entry.system),
                "action": _s(entry.action),
                "detail": _s(json.dumps(entry.detail, default=str)),
                "actor": _s(entry.actor),
                "at": _n(at),
                "seq": _n(seq),
                # TTL takes whole epoch seconds.
                "expires_at": _n(int(at + self.audit_retention_seconds)),
            },
        )
        return seq

    def _audit_query(self, object_key: str, after_seq: int, since: float | None) -> dict[str, Any]:
        floor = max(since or 0.0, self._clock() - self.audit_retention_seconds)
        return {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk > :after",
            "FilterExpression": "#at >= :floor",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {
                ":pk": _s(f"audit#{object_key}"),
                ":after": _s(str(max(after_seq, 0)).zfill(_SEQ_WIDTH)),
                ":floor": _n(float(floor)),
            },
            "ScanIndexForward": True,
            "ConsistentRead": True,
        }

    async def audit_trail(
        self, object_key: str, limit: int = 100, *, after_seq: int = 0, since: float | None = None
    ) -> list[AuditEntry]:
        if limit < 1:
            return []
        entries: list[AuditEntry] = []
        start: dict[str, Any] | None = None
        query = self._audit_query(object_key, after_seq, since)
        while len(entries) < limit:
            page: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            # The filter runs after Limit is applied, so a page may hold fewer than asked: read on.
            resp = await self._call("query", Limit=limit - len(entries), **query, **page)
            entries += [
                AuditEntry(
                    object_key=object_key,
                    system=i["system"]["S"],
                    action=i["action"]["S"],
                    detail=json.loads(i["detail"]["S"]),
                    actor=i["actor"]["S"],
                    at=float(i["at"]["N"]),
                    seq=int(i["seq"]["N"]),
                )
                for i in resp.get("Items", [])
            ]
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return entries

    async def audit_count(self, object_key: str, since: float | None = None) -> int:
        total, start = 0, None
        query = self._audit_query(object_key, 0, since)
        while True:
            page: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            resp = await self._call("query", Select="COUNT", **query, **page)
            total += int(resp.get("Count", 0))
            start = resp.get("LastEvaluatedKey")
            if not start:
                return total

    async def ping(self) -> None:
        resp = await self._call("describe_table", TableName=self.table_name)
        status = resp.get("Table", {}).get("TableStatus")
        if status not in ("ACTIVE", "UPDATING"):
            raise StoreUnavailable(f"DynamoDB table {self.table_name} is {status}, not ACTIVE")


async def create_table(
    table_name: str,
    *,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    session: AioSession | None = None,
) -> None:
    """Create the store's table (on-demand billing, TTL on ``expires_at``) if absent, and wait until ACTIVE.

    Idempotent: an existing table is left as it is apart from making sure TTL is enabled. For tests, the
    CLI and as the reference the CDK stack mirrors.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
    """
    session = session or get_session()
    try:
        async with session.create_client("dynamodb", region_name=region, endpoint_url=endpoint_url) as client:
            try:
                await client.create_table(
                    TableName=table_name,
                    AttributeDefinitions=[
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "sk", "AttributeType": "S"},
                    ],
                    KeySchema=[
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    BillingMode="PAY_PER_REQUEST",
                )
            except ClientError as exc:
                if _error_code(exc) != "ResourceInUseException":
                    raise
            waiter = client.get_waiter("table_exists")
            await waiter.wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
            ttl = await client.describe_time_to_live(TableName=table_name)
            if ttl.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                await client.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
                )
    except (BotoCoreError, ClientError) as exc:
        raise StoreUnavailable(f"cannot create DynamoDB table {table_name}: {exc}") from None


def _check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise ValueError(f"idempotency key ttl_seconds must be positive, got {ttl_seconds}")


def _backoff(attempt: int, *, base: float = 0.05, cap: float = 1.0) -> float:
    """Full-jitter exponential backoff, so retrying replicas do not collide again in lockstep."""
    return random.uniform(0, min(cap, base * 2**attempt))
