"""A webhook receiver in its own process: ``/ok`` answers 200 after a delay, ``/hang`` never.

Usage: ``python benchmarks/receiver.py PORT DELAY_SECONDS``; it prints "ready" once listening.
"""

import asyncio
import sys

from aiohttp import web


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay)
        return web.Response(text="ok")

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(3600)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/hang", hang)

    async def announce(_app) -> None:
        print("ready", flush=True)

    app.on_startup.append(announce)
    web.run_app(app, host="127.0.0.1", port=port, print=None, backlog=2048, access_log=None)


if __name__ == "__main__":
    main()
