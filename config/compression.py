"""Pages travel gzipped (Lighthouse's ``uses-text-compression``)."""

from django.middleware.gzip import GZipMiddleware


class PageGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware (padded with random bytes against BREACH) for
    HTML pages only: the partner API keeps its strong ETags and its
    uncompressed answers, and static files are whitenoise's (precompressed
    by collectstatic in production)."""

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
