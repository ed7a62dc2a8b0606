"""Small real-looking documents for the booking-event tests: a PDF, a PNG, a JPEG, in base64."""
import base64
import os

# Random bytes behind each signature: any change on the way (a line ending, a charset) shows.
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + os.urandom(200_000) + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(30_000)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(20_000)


def attachment(filename: str, content: bytes, content_type: str = "application/pdf") -> dict:
    return {"filename": filename, "content_type": content_type,
            "content": base64.b64encode(content).decode("ascii")}
