"""Read an upload request's multipart body ourselves (python-multipart), file by file.

Django's own parser refuses a whole request when one part's headers pass 1 KB (a file name
of ~1,000 characters: a 400 for every file) and silently drops a part whose headers aren't
UTF-8 (a file name in another encoding: the file vanishes). Here each file stands alone: a
name we can't use becomes a `RefusedFile` with its reason, the other files go through.
Files are written to temporary files as they arrive and stop growing past the size limit.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.datastructures import MultiValueDict
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from sessions_app.uploads import clean_file_name

# The longest file name a document keeps (Document.original_name's max_length).
MAX_FILE_NAME_LENGTH = 255
# One header line; a longer one fails the request (nothing sensible is that long).
_MAX_HEADER_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RefusedFile:
    """A file part we didn't keep: its name as best we can show it, and why."""

    name: str
    reason: str


class UploadRequestError(Exception):
    """The request as a whole can't be read (a 400); `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _printable(name: str) -> str:
    name = "".join(char for char in name if char.isprintable()).strip()
    return name[:80] + "…" if len(name) > 80 else name or "unnamed file"


class _Reader:
    def __init__(self, max_file_bytes: int):
        self.max_file_bytes = max_file_bytes
        self.fields = QueryDict(mutable=True)
        self.files = MultiValueDict()
        self.refused: list[RefusedFile] = []
        self.file_count = 0
        self.field_bytes = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name = ""
        self._target: TemporaryUploadedFile | bytearray | None = None
        self._size = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._target = None
        self._size = 0

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        raw_file_name = params.get(b"filename")
        if raw_file_name is None:
            self._target = bytearray()  # an ordinary form field
            return
        if not raw_file_name:
            return  # an empty file input: no file chosen
        self.file_count += 1
        if self.file_count > settings.DATA_UPLOAD_MAX_NUMBER_FILES:
            raise UploadRequestError(
                f"Upload at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files at a time."
            )
        try:
            file_name = raw_file_name.decode("utf-8")
        except UnicodeDecodeError:
            self.refused.append(
                RefusedFile(
                    _printable(raw_file_name.decode("latin-1")),
                    "This file's name isn't valid text (UTF-8), so the file wasn't kept. "
                    "Rename it and upload it again.",
                )
            )
            return
        file_name = clean_file_name(file_name)
        if len(file_name) > MAX_FILE_NAME_LENGTH:
            self.refused.append(
                RefusedFile(
                    _printable(file_name),
                    f"This file's name is {len(file_name):,} characters long; the limit is "
                    f"{MAX_FILE_NAME_LENGTH}. Give it a shorter name and upload it again.",
                )
            )
            return
        content_type, options = parse_options_header(self._headers.get(b"content-type", b""))
        charset = options.get(b"charset")
        self._target = TemporaryUploadedFile(
            file_name,
            content_type.decode("latin-1")[:100],
            0,
            charset.decode("latin-1") if charset else None,
        )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target is None:
            return
        self._size += end - start
        if isinstance(self._target, bytearray):
            self.field_bytes += end - start
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and self.field_bytes > limit:
                raise UploadRequestError("The form fields of this request are too large.")
            self._target += data[start:end]
        elif self._size <= self.max_file_bytes + 1:
            # Past the limit the file is refused anyway: count its size, don't keep it.
            self._target.write(data[start:end])

    def part_end(self) -> None:
        target = self._target
        self._target = None
        if isinstance(target, bytearray):
            self.fields.appendlist(self._name, target.decode("utf-8", "replace"))
        elif target is not None:
            target.seek(0)
            target.size = self._size
            self.files.appendlist(self._name, target)


def read_upload(request) -> list[RefusedFile]:
    """Parse the multipart body into request.POST and request.FILES; the refused files.

    Raises UploadRequestError when the request as a whole is unreadable.
    """
    content_type, options = parse_options_header(request.META.get("CONTENT_TYPE", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRequestError("Send the files as multipart/form-data.")
    reader = _Reader(settings.MAX_UPLOAD_MB * 1024 * 1024)
    parser = MultipartParser(boundary, reader.callbacks(), max_header_size=_MAX_HEADER_BYTES)
    try:
        while chunk := request.read(_READ_CHUNK):
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        _close_all(reader.files)
        raise UploadRequestError(f"The upload could not be read ({error}).") from None
    except UploadRequestError:
        _close_all(reader.files)
        raise
    request._post = reader.fields
    request._files = reader.files
    return reader.refused


def _close_all(files: MultiValueDict) -> None:
    for uploads in files.lists():
        for upload in uploads[1]:
            upload.close()


def check_csrf(request):
    """Django's CSRF check, run after `read_upload` has filled request.POST (the view is
    csrf_exempt so that Django's parser never reads the body first). None when it passes,
    else the 403 response."""
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {})
