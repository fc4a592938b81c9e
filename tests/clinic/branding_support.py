"""Small images made in memory for the branding tests."""

import io

from PIL import Image

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b"<script>alert(1)</script></svg>"
)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (107, 63, 160)).save(out, format=fmt)
    return out.getvalue()
