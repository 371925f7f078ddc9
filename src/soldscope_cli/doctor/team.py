"""Team mode's check: the PostgreSQL server answers and its schema is this soldscope's."""

from __future__ import annotations

from collections.abc import Mapping

from soldscope_cli.doctor.model import CheckResult, Level
from soldscope_cli.errors import SoldscopeError
from soldscope_cli.fleet.config import Config
from soldscope_cli.fleet.team import OpenTeam

CHECK_ID = "team-database"
TITLE = "Team database"


def team_url(env: Mapping[str, str], config: Config | None) -> str | None:
    """The database URL this home would use (the environment first), None for a SQLite home."""
    return env.get("SOLDSCOPE_DATABASE_URL") or (config.database_url if config else None)


def check_team_database(url: str, timeout: float, open_team: OpenTeam) -> list[CheckResult]:
    """Connect (within `timeout`), then compare the recorded migrations with the known ones."""
    from soldscope_cli.fleet.config import database_url_problem
    from soldscope_cli.fleet.team import team_schema

    problem = database_url_problem(url)
    if problem is not None:
        return [CheckResult(CHECK_ID, TITLE, Level.FAIL, f"SOLDSCOPE_DATABASE_URL: {problem}")]
    try:
        schema = team_schema(url, open_team, timeout=timeout)
    except SoldscopeError as exc:  # the server is down, refuses the login, or the URL is wrong
        return [CheckResult(CHECK_ID, TITLE, Level.FAIL, exc.message, exc.hint)]
    if not schema.recorded:
        return [
            CheckResult(
                CHECK_ID,
                TITLE,
                Level.FAIL,
                f"{schema.database}: reachable, but not prepared for soldscope",
                "run `soldscope team init`",
            )
        ]
    if schema.pending:
        return [
            CheckResult(
                CHECK_ID,
                TITLE,
                Level.FAIL,
                f"{schema.database}: schema not current: {len(schema.pending)} migration(s) to "
                f"apply ({', '.join(schema.pending)})",
                "run `soldscope team init`",
            )
        ]
    if schema.unknown:
        return [
            CheckResult(
                CHECK_ID,
                TITLE,
                Level.WARN,
                f"{schema.database}: has migrations this soldscope does not know "
                f"({', '.join(schema.unknown)}): another host runs a newer soldscope",
                "upgrade soldscope on this host",
            )
        ]
    return [
        CheckResult(
            CHECK_ID,
            TITLE,
            Level.OK,
            f"{schema.database}: reachable, schema version {schema.schema_version} (current)",
        )
    ]


SHARED_BACKENDS = ("database", "command")


def check_team_secrets(backend: str, source: str) -> CheckResult:
    """In team mode the tokens must be where every host can read them."""
    title = "Team secrets"
    if backend in SHARED_BACKENDS:
        return CheckResult(
            "team-secrets", title, Level.OK, f"the {backend} backend ({source}) is shared"
        )
    return CheckResult(
        "team-secrets",
        title,
        Level.WARN,
        f"the {backend} backend ({source}) belongs to this host: other hosts cannot read the "
        "tokens it stores, and this host cannot read theirs",
        "set SOLDSCOPE_SECRETS=database and the same SOLDSCOPE_SECRETS_KEY on every host "
        "(docs/team.md)",
    )
