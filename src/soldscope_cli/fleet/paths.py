"""Where soldscope keeps its files: a pure function of the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_DIR_ENV = "SOLDSCOPE_CONFIG_DIR"
DATA_DIR_ENV = "SOLDSCOPE_DATA_DIR"
APP_NAME = "soldscope"


@dataclass(frozen=True)
class Paths:
    """The config and data directories and the files soldscope keeps in them."""

    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def config_lock(self) -> Path:
        return self.config_dir / ".config.toml.lock"

    @property
    def database(self) -> Path:
        return self.data_dir / "soldscope.db"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def sync_lock(self) -> Path:
        return self.data_dir / "sync.lock"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "soldscope.log"


def resolve_paths(env: Mapping[str, str]) -> Paths:
    """platformdirs locations unless SOLDSCOPE_CONFIG_DIR / SOLDSCOPE_DATA_DIR override them."""
    config = env.get(CONFIG_DIR_ENV)
    data = env.get(DATA_DIR_ENV)
    if not config or not data:
        # Imported here: platformdirs is cheap, but tests and scripts usually set both variables.
        import platformdirs

        config = config or platformdirs.user_config_dir(APP_NAME)
        data = data or platformdirs.user_data_dir(APP_NAME)
    return Paths(Path(config).expanduser(), Path(data).expanduser())
