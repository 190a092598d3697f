"""The documents of a project's record as the API and the archive pages list them."""

from __future__ import annotations

from typing import Any

from signaling.gate.projects import DocumentOut
from signaling.services.container import Services


def document_url(project_id: str, path: str) -> str:
    """Where a cited document of a project is read."""
    return f"/api/projects/{project_id}/documents/{path.rsplit('/', 1)[-1]}"


async def project_documents(services: Services, project_id: str) -> list[dict[str, Any]]:
    """The documents cited for a project, oldest first, as the API lists them."""
    events = await services.store.list_events(kind="project_document_added")
    return [
        DocumentOut.model_validate(
            {
                **e.data,
                "added_at": e.at,
                "added_by": e.actor or "",
                "url": document_url(project_id, str(e.data["path"])),
            }
        ).model_dump(mode="json")
        for e in events
        if e.data.get("project") == project_id
    ]
