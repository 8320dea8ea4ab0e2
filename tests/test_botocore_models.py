"""The test process parses botocore's models once, not once per session (cosync_worker.testing.botocore_models):
what each queue, store or boto3 client of a test used to pay, about 80 ms of CPU each."""

from __future__ import annotations

from pathlib import Path

from botocore.loaders import Loader
from botocore.session import get_session


def _sqs_model(session_loader: Loader) -> object:
    return session_loader.load_service_model("sqs", "service-2")


def test_fresh_sessions_share_one_parsed_model() -> None:
    first = get_session().get_component("data_loader")
    second = get_session().get_component("data_loader")
    assert first is not second
    assert _sqs_model(first) is _sqs_model(second)
    assert "sqs" in second.list_available_services("service-2")


def test_a_loader_looking_elsewhere_keeps_its_own_answers(tmp_path: Path) -> None:
    assert "sqs" in Loader().list_available_services("service-2")
    elsewhere = Loader(extra_search_paths=[str(tmp_path)], include_default_search_paths=False)
    assert elsewhere.list_available_services("service-2") == []
