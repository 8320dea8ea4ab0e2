"""The engagement mapping without I/O: properties, derived status and timeline entries (seed 002 §2)."""

from __future__ import annotations

from datetime import UTC, datetime

from cosync_aws.engagement_mapping import engagement_properties, engagement_view, timeline

ENGAGEMENT = {
    "Id": "eng-abcdefghijklmn",
    "Title": "Move to AWS",
    "CreatedAt": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    "ModifiedAt": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    "Contexts": [
        {
            "Id": "1",
            "Type": "CustomerProject",
            "Payload": {
                "CustomerProject": {
                    "Customer": {"CompanyName": "BigCorp"},
                    "Project": {
                        "Title": "Move to AWS",
                        "BusinessProblem": "Data centre lease ends",
                        "TargetCompletionDate": "2026-09-30",
                    },
                }
            },
        }
    ],
}
PARTNER = {"AccountId": "123456789012", "CompanyName": "Sandbox Partner"}
AWS = {"AccountId": "aws", "CompanyName": "Amazon Web Services"}


def test_properties_from_the_engagement_and_its_members() -> None:
    props = engagement_properties(engagement_view(ENGAGEMENT, [PARTNER, AWS], "Qualified"))
    assert props == {
        "aws_engagement_id": "eng-abcdefghijklmn",
        "aws_engagement_status": "Active",
        "aws_engagement_team": "Sandbox Partner (123456789012), Amazon Web Services (aws)",
        "aws_engagement_kickoff_date": "2026-03-01",
        "aws_engagement_close_date": "2026-09-30",
        "aws_engagement_context": "Customer project: Move to AWS - Data centre lease ends",
    }


def test_status_is_derived_from_the_opportunity_stage() -> None:
    assert engagement_view(ENGAGEMENT, [], "Launched").status == "Completed"
    lost = engagement_view(ENGAGEMENT, [], "Closed Lost", "Lost to competitor")
    assert (lost.status, lost.cancel_reason) == ("Cancelled", "Lost to competitor")
    assert engagement_view(ENGAGEMENT, [], "Prospect", "ignored").cancel_reason == ""


def test_timeline_names_each_change_once() -> None:
    first = engagement_view(ENGAGEMENT, [PARTNER], "Qualified")
    assert [text for _, text in timeline(None, first)] == [
        "🚀 AWS Engagement Started: Move to AWS",
        "👤 Sandbox Partner joined the engagement team",
    ]
    moved = dict(ENGAGEMENT, Contexts=[dict(ENGAGEMENT["Contexts"][0])])  # type: ignore[arg-type]
    moved["Contexts"][0] = {
        "Type": "CustomerProject",
        "Payload": {"CustomerProject": {"Project": {"Title": "Move", "TargetCompletionDate": "2026-12-31"}}},
    }
    second = engagement_view(moved, [PARTNER, AWS], "Launched")
    entries = timeline(first, second)
    assert [text for _, text in entries] == [
        "👤 AWS joined the engagement team",
        "🎯 Engagement milestone: target completion 2026-12-31",
        "✅ AWS Engagement Completed",
    ]
    assert timeline(second, second) == []  # a re-read engagement adds nothing
    assert len({key for key, _ in entries}) == 3
