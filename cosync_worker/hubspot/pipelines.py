"""Deal pipelines: the stages of a pipeline by id (labels, order, probability, closed or not), cached.

Shape: ``/work/shared/specs/hubspot/pipelines-v3.json`` and https://developers.hubspot.com/docs/api/crm/pipelines
(``GET /crm/v3/pipelines/{objectType}/{pipelineId}/stages`` answers ``{"results": [{"id", "label",
"displayOrder", "metadata": {"probability", "isClosed"}}]}``).
"""

from __future__ import annotations

from typing import Any

from .transport import HubSpotTransport, segment

__all__ = ["STAGES_CACHE_SECONDS", "PipelinesMixin"]

STAGES_CACHE_SECONDS = 600.0
_STAGES = "/crm/v3/pipelines/{objectType}/{pipelineId}/stages"


class PipelinesMixin(HubSpotTransport):
    async def deal_stages(self, pipeline_id: str = "default") -> dict[str, dict[str, Any]]:
        """``{stage_id: stage}`` of a deal pipeline in display order; raises ``NotFound`` for an unknown one."""
        hit, value = self.cached("stages", pipeline_id)
        if hit:
            return dict(value)
        path = f"/crm/v3/pipelines/deals/{segment(pipeline_id, 'pipeline id')}/stages"
        answer = await self.request("GET", path, template=_STAGES)
        stages = [s for s in (answer or {}).get("results") or [] if isinstance(s, dict) and "id" in s]
        stages.sort(key=lambda s: s.get("displayOrder", 0))
        by_id = {str(s["id"]): s for s in stages}
        self.remember("stages", pipeline_id, by_id, STAGES_CACHE_SECONDS)
        return dict(by_id)
