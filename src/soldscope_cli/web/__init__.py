"""`soldscope serve`: the invitation links and the consent callback over HTTP (Starlette, uvicorn).

Imported only by the serve command: nothing on the path of other commands loads the ASGI stack.
"""
