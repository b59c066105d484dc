"""The fake CDN: serves stored attachment bytes at the URLs message payloads carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .state import EmulatorState


class CdnRoutes:
    """Serve attachments under /cdn (the `url`) and /media (the `proxy_url`)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this module's routes."""
        for prefix in ("/cdn", "/media"):
            router.add_get(
                prefix + "/attachments/{channel_id}/{attachment_id}/{filename}", self.attachment
            )

    async def attachment(self, request: web.Request) -> web.Response:
        """Return an attachment's bytes; Discord's CDN answers unknown files with a 404."""
        attachment_id = request.match_info["attachment_id"]
        attachment = (
            self.state.attachments.get(int(attachment_id)) if attachment_id.isdigit() else None
        )
        if attachment is None or str(attachment.channel_id) != request.match_info["channel_id"]:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(
            body=attachment.data, content_type=attachment.content_type or "application/octet-stream"
        )
