"""What text can be stored and shown: shared by the API's payloads and the client-facing forms."""
import re
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


# What may not stand in an email header: every control character (Unicode Cc: CR, LF, NUL, TAB,
# VT, FF, the 0x1C-0x1E separators, DEL, C1 with NEL), the line and paragraph separators
# U+2028/U+2029 (str.splitlines and so the email package break lines at all of these, and a
# parser downstream may see a new header there) and lone surrogates.
HEADER_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def breaks_header(value: str) -> bool:
    """Whether `value` would let a header end early or carry bytes no header may hold."""
    return HEADER_BREAKING.search(value) is not None
