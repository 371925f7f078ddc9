"""What a use case may ask of the outside world; the composition root (context.py) provides it.

Use cases (onboarding, validation, sync) take a `Services` instead of the context itself, so they
never import the composition root and tests can hand them any object of this shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from soldscope_cli.amazon.clients import AmazonClients
    from soldscope_cli.amazon.endpoints import Endpoints
    from soldscope_cli.amazon.ratelimit import WaitObserver
    from soldscope_cli.db.interface import Database
    from soldscope_cli.fleet.config import Config, ConfigFile
    from soldscope_cli.fleet.paths import Paths
    from soldscope_cli.fleet.secrets import SecretStore


class Services(Protocol):
    """Real collaborators in production (AppContext), fakes in tests."""

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def paths(self) -> Paths: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def sleep(self) -> Callable[[float], None]: ...

    @property
    def monotonic(self) -> Callable[[], float]: ...

    @property
    def browser(self) -> Callable[[str], bool]: ...

    @property
    def config_file(self) -> ConfigFile: ...

    @property
    def endpoints(self) -> Endpoints: ...

    def config(self, *, reload: bool = False) -> Config: ...

    def database(self) -> Database: ...

    def secret_store(self) -> SecretStore: ...

    def amazon_clients(
        self,
        *,
        sleep: Callable[[float], None] | None = None,
        rate_waits: WaitObserver | None = None,
    ) -> AmazonClients: ...
