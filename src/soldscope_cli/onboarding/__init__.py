"""Connecting stores: a consent (new or renewal), importing a self-authorized token, renewals.

Owns the use cases that turn an authorization into a stored connection: plan the target, run the
consent, exchange the code, prove the token live, store record and token together. Takes its
collaborators as a `Services` and its terminal as a `ConsentUi`; must not import the context,
commands, output or Typer.
"""
