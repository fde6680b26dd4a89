"""Files chosen in a page's form (a commune's submission, a unit's report): each read within
the attachment bound, named problems in one line for the file input."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile

from domain.errors import DomainError
from service.cases import clean_name
from web.i18n import Lang, pick
from workflows.messages import MAX_ATTACHMENTS


def size_text(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} byte"


async def read_uploads(data: FormData, limit: int, lang: Lang, per: tuple[str, str]
                       ) -> tuple[list[tuple[str, bytes, str | None]], str | None]:
    """The files of the form's ``files`` input (none chosen: an empty part, skipped), each
    within ``limit`` bytes, and the problems found (None: none); ``per``: what the count
    bound is per, in Vietnamese and English."""
    out: list[tuple[str, bytes, str | None]] = []
    problems = []
    uploads = [u for u in data.getlist("files") if isinstance(u, UploadFile) and u.filename]
    if len(uploads) > MAX_ATTACHMENTS:
        return [], pick(lang, f"Tối đa {MAX_ATTACHMENTS} tệp {per[0]}",
                        f"At most {MAX_ATTACHMENTS} files {per[1]}")
    for upload in uploads:
        content = await upload.read(limit + 1)
        try:
            clean = clean_name(upload.filename or "")
        except DomainError as exc:
            problems.append(exc.text(lang))
            continue
        if len(content) > limit:
            problems.append(pick(lang, f"Tệp “{clean}” vượt quá {size_text(limit)}",
                                 f"“{clean}” is larger than {size_text(limit)}"))
        elif not content:
            problems.append(pick(lang, f"Tệp “{clean}” rỗng", f"“{clean}” is empty"))
        else:
            out.append((clean, content, upload.content_type))
    return out, "; ".join(problems) or None
