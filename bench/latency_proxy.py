"""A TCP proxy that puts a mail server `--delay-ms` away: every reply of the server reaches the
client that much later, so each exchange costs one round trip of that length, as against a real
provider. What the client writes goes through at once (a round trip is one delay, not two).

    .venv/bin/python bench/latency_proxy.py LISTEN_PORT UPSTREAM_PORT [--delay-ms 40]
                                            [--stats FILE]

asyncio with protocols, not streams: one read and one timer a reply, so the proxy costs little
of the machine the benchmark measures. With `--stats` it writes, every second and on SIGTERM,
the connections open now, the most open at once and the total accepted (one line of JSON).
"""
import argparse
import asyncio
import collections
import json
import signal


class Stats:
    def __init__(self):
        self.open = self.peak = self.total = 0

    def opened(self):
        self.open += 1
        self.total += 1
        self.peak = max(self.peak, self.open)

    def closed(self):
        self.open -= 1

    def as_json(self) -> str:
        return json.dumps({"open": self.open, "peak": self.peak, "total": self.total})


class Delayed:
    """Writes to a transport `delay` seconds after each chunk arrived, in order (one timer at a
    time: timers due at the same instant are not ordered by asyncio)."""

    def __init__(self, loop, delay: float):
        self.loop, self.delay = loop, delay
        self.transport = None
        self.pending = collections.deque()
        self.timer = None
        self.close_after = False

    def write(self, data: bytes) -> None:
        self.pending.append((self.loop.time() + self.delay, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.pending[0][0], self._flush)

    def close(self) -> None:
        self.close_after = True
        if self.timer is None:
            self._flush()

    def _flush(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.pending and self.pending[0][0] <= now:
            data = self.pending.popleft()[1]
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)
        if self.pending:
            self.timer = self.loop.call_at(self.pending[0][0], self._flush)
        elif self.close_after and self.transport is not None:
            self.transport.close()


class Upstream(asyncio.Protocol):
    """The proxy's connection to the real server: its replies go back to the client late."""

    def __init__(self, client: "Client"):
        self.client = client

    def connection_made(self, transport):
        self.client.upstream_ready(transport)

    def data_received(self, data):
        self.client.to_client.write(data)

    def connection_lost(self, exc):
        self.client.to_client.close()


class Client(asyncio.Protocol):
    def __init__(self, upstream_port: int, delay: float, stats: Stats):
        self.upstream_port, self.stats = upstream_port, stats
        self.loop = asyncio.get_running_loop()
        self.to_client = Delayed(self.loop, delay)
        self.upstream = None
        self.early: list[bytes] = []

    def connection_made(self, transport):
        self.stats.opened()
        self.to_client.transport = transport
        transport.set_write_buffer_limits(high=1 << 20)
        self.loop.create_task(self._connect())

    async def _connect(self):
        try:
            await self.loop.create_connection(lambda: Upstream(self), "127.0.0.1", self.upstream_port)
        except OSError:
            self.to_client.transport.close()

    def upstream_ready(self, transport):
        self.upstream = transport
        for data in self.early:
            transport.write(data)
        self.early.clear()

    def data_received(self, data):
        if self.upstream is None:
            self.early.append(data)
        else:
            self.upstream.write(data)

    def connection_lost(self, exc):
        self.stats.closed()
        self.to_client.transport = None
        if self.upstream is not None:
            self.upstream.close()


async def serve(listen_port: int, upstream_port: int, delay: float, stats_path: str | None):
    loop = asyncio.get_running_loop()
    stats = Stats()
    server = await loop.create_server(lambda: Client(upstream_port, delay, stats), "127.0.0.1",
                                      listen_port, backlog=512, reuse_address=True)
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    async with server:
        while not stopped.is_set():
            if stats_path:
                with open(stats_path, "w") as out:
                    out.write(stats.as_json())
            try:
                await asyncio.wait_for(stopped.wait(), 1)
            except asyncio.TimeoutError:
                pass
    if stats_path:
        with open(stats_path, "w") as out:
            out.write(stats.as_json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen_port", type=int)
    parser.add_argument("upstream_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--stats")
    args = parser.parse_args()
    asyncio.run(serve(args.listen_port, args.upstream_port, args.delay_ms / 1000, args.stats))


if __name__ == "__main__":
    main()
