"""``cosync dlq list`` shows every dead letter, whatever its body holds."""

from __future__ import annotations

import json
from pathlib import Path

from cosync_worker.config import load_settings
from cosync_worker.runtime import open_queue

from .helpers import cli, write_config

NOT_TEXT = b"\xff\xfe\x00\x81 not utf-8"


async def test_dlq_list_shows_a_body_that_is_not_text(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, {"queue": {"path": str(tmp_path / "q.db")}, "store": {"path": str(tmp_path / "s.db")}}
    )
    queue = await open_queue(load_settings(config, {}).queue)
    try:
        # A producer that sent bytes: SQLite keeps them as a blob and hands them back as bytes.
        await queue.send([(NOT_TEXT, "g", "bin"), ("plain text", "h", "txt")])  # type: ignore[list-item]
        for message in await queue.receive(10, 1):
            await queue.dead_letter(message, "invalid message: body: is not valid JSON")
    finally:
        await queue.close()

    code, out, err = await cli(tmp_path, "dlq", "list", "--json", "-c", "config.yaml")

    assert code == 0, err
    lines = {line["body"]: line for line in map(json.loads, out.splitlines())}
    assert set(lines) == {NOT_TEXT.decode("utf-8", "backslashreplace"), "plain text"}
    shown = lines[NOT_TEXT.decode("utf-8", "backslashreplace")]
    assert shown["body"].startswith("\\xff\\xfe")
    assert shown["reason"].startswith("undecodable message: body is not UTF-8 text")
    assert lines["plain text"]["reason"] == "invalid message: body: is not valid JSON"
