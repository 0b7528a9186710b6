"""The files shipped inside the package, read the same way from a wheel and from a checkout.

Everything the server reads at run time besides its configuration is package
data, found with importlib.resources: never a path relative to the source
tree, which an installed wheel does not have. The OpenAPI documents are made
by ``make generate`` into generated/openapi/; server/threadline_server/openapi
is a link to that folder, so an editable install reads them where they are
generated and a wheel carries copies (pyproject.toml's package-data).
"""

from __future__ import annotations

from importlib import resources

PACKAGE = "threadline_server"
OPENAPI_FOLDER = "openapi"


def openapi_document(file_name: str) -> bytes:
    """Return one OpenAPI document, such as ``threadline.swagger.json``, as served."""
    return (resources.files(PACKAGE) / OPENAPI_FOLDER / file_name).read_bytes()
