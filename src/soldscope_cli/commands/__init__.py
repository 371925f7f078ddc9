"""The Typer adapters, one module per command: parse options, call one use case, render.

Command modules never import each other or cli.py; shared option helpers live in common.py.
"""
