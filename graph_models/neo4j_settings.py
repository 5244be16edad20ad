"""Where the Neo4j store connects, and where the bundled development server lives.

Every setting is an environment variable with a documented default; nothing is computed from
where this package is installed.

================================  =================================================================
variable                          meaning (default)
================================  =================================================================
``NEO4J_URI``                     Bolt URI of the server (default: the bundled server's,
                                  ``bolt://127.0.0.1:$RISKGRAPH_NEO4J_BOLT_PORT``)
``NEO4J_USER``                    user (``neo4j``)
``NEO4J_PASSWORD``                password (default: the bundled server's, read from
                                  ``$RISKGRAPH_NEO4J_HOME/password``)
``NEO4J_DATABASE``                database (the server's default database)
``RISKGRAPH_NEO4J_BOLT_PORT``     Bolt port of the bundled server (``7697``)
``RISKGRAPH_NEO4J_HOME``          home of the bundled server: lib, conf, data, password
                                  (``.neo4j`` in the current directory)
``RISKGRAPH_NEO4J_SCRIPT``        the script that runs the bundled server, used for the offline
                                  bulk import (``scripts/neo4j.sh`` in the current directory)
``RISKGRAPH_NEO4J_READERS``       read transactions at once per process (see ``Neo4jStore``)
================================  =================================================================

The bundled server is the one ``scripts/neo4j.sh start`` runs from a source checkout (it reads
the same ``RISKGRAPH_NEO4J_*`` variables), so run ``riskgraph`` from the checkout or set these.

Examples
--------
>>> bundled_uri({"RISKGRAPH_NEO4J_BOLT_PORT": "7701"})
'bolt://127.0.0.1:7701'
>>> connection_settings({"NEO4J_URI": "bolt://db:7687", "NEO4J_PASSWORD": "s"})["uri"]
'bolt://db:7687'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from graph_models.errors import DataError

__all__ = ["bundled_home", "bundled_script", "bundled_uri", "connection_settings"]

DEFAULT_BOLT_PORT = 7697


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def bundled_uri(env: Mapping[str, str] | None = None) -> str:
    """Bolt URI of the bundled server (``RISKGRAPH_NEO4J_BOLT_PORT``, default 7697)."""
    port = _env(env).get("RISKGRAPH_NEO4J_BOLT_PORT") or DEFAULT_BOLT_PORT
    return f"bolt://127.0.0.1:{port}"


def bundled_home(env: Mapping[str, str] | None = None) -> Path:
    """Home directory of the bundled server (``RISKGRAPH_NEO4J_HOME``, default ``./.neo4j``)."""
    return Path(_env(env).get("RISKGRAPH_NEO4J_HOME") or ".neo4j")


def bundled_script(env: Mapping[str, str] | None = None) -> Path:
    """The script that runs the bundled server (``RISKGRAPH_NEO4J_SCRIPT``, default
    ``./scripts/neo4j.sh``); a clear error when it is not there."""
    script = Path(_env(env).get("RISKGRAPH_NEO4J_SCRIPT") or "scripts/neo4j.sh")
    if not script.is_file():
        raise DataError(
            "neo4j_config",
            f"no bundled Neo4j server script at {script}: run from the riskgraph checkout or set "
            "RISKGRAPH_NEO4J_SCRIPT to its scripts/neo4j.sh",
        )
    return script


def connection_settings(env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """``uri``, ``user``, ``password`` and ``database`` from the environment (see the table),
    the bundled server's where ``NEO4J_URI`` / ``NEO4J_PASSWORD`` are not set."""
    env = _env(env)
    uri = env.get("NEO4J_URI")
    password = env.get("NEO4J_PASSWORD")
    if not uri:
        uri = bundled_uri(env)
        pw_file = bundled_home(env) / "password"
        bundled = pw_file.read_text("utf-8").strip() if pw_file.is_file() else None
        password = password or bundled
    if password is None:
        raise DataError(
            "neo4j_config",
            f"no password for Neo4j at {uri}: set NEO4J_PASSWORD "
            "(or start the bundled server with 'bash scripts/neo4j.sh start')",
        )
    return {
        "uri": uri,
        "user": env.get("NEO4J_USER", "neo4j"),
        "password": password,
        "database": env.get("NEO4J_DATABASE") or None,
    }
