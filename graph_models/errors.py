"""Two kinds of failure, kept apart (as followthemoney does).

``SchemaError`` is *our* bug: a schema or contract file that does not validate. It is raised at
import time with the file and the offending entry, and should never reach a user in a release.

``DataError`` is *their* data: a dataset, file or column that cannot be read as the contract says.
It carries a short machine code and a message meant for a data engineer, and is shaped so the CLI
prints it as one line and the API returns it as a JSON error.
"""

from __future__ import annotations

__all__ = ["DataError", "QueryError", "SchemaError"]


class SchemaError(Exception):
    """The packaged schema or contract is inconsistent (a riskgraph bug, not a data problem)."""


class DataError(Exception):
    """Input that cannot be processed as the data contract describes.

    Parameters
    ----------
    code : str
        Short machine-readable code, e.g. ``missing_column`` or ``unreadable_file``.
    message : str
        One line for a human, naming the file/table/column involved.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class QueryError(DataError):
    """A read-only query (``GraphStore.read_cypher``) the store refused or could not run.

    Codes: ``cypher_unavailable`` (the store runs no Cypher), ``cypher_rejected`` (the statement
    tried to write), ``cypher_timeout`` (it ran past its time limit) and ``cypher_error`` (the
    server's own message, first line).
    """
