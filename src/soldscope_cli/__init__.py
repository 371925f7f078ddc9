"""soldscope: keep every Amazon SP-API seller connection visible, healthy and syncing."""

__version__ = "0.1.0"
