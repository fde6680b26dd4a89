"""A TCP proxy in front of the API that drops connections: for a seeded share of the
responses it has already received from the API, it closes the client's connection instead of
passing them on. The client saw its request leave and no answer come back, so it retries
with the same Idempotency-Key, as the command line does: the API must answer the first
outcome again and record nothing twice."""

from __future__ import annotations

import asyncio
import random


class DroppingProxy:
    def __init__(self, upstream_port: int, drop_share: float, seed: int) -> None:
        self.upstream_port, self.drop_share = upstream_port, drop_share
        self.random = random.Random(seed)
        self.dropped = 0
        self.enabled = True
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()  # the API is down: the client sees a refused connection
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       drops: bool) -> None:
            try:
                while data := await src.read(65536):
                    # the API has answered (the command took effect, or not): lose the answer
                    if drops and self.enabled and self.random.random() < self.drop_share:
                        self.dropped += 1
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for w in (writer, up_writer):
                    w.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))
