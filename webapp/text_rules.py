"""What text can be stored and shown: shared by the API's payloads and the client-facing forms."""
import unicodedata


def unstorable_reason(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored (lone surrogates; control characters, which PostgreSQL
    refuses as NUL and a header would carry as CR/LF), or None when it can."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode"
    allowed = "\n\r\t" if multiline else ""
    if any(unicodedata.category(char) == "Cc" and char not in allowed for char in value):
        return "must not contain control characters"
    return None
