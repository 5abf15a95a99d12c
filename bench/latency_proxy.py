#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every byte by a fixed time in each direction.

    latency_proxy.py --target PORT [--delay-ms 20] [--rate-mbit N [--shared-link]]
                     [--count-bytes] [--lifetime SECONDS]

Listens on 127.0.0.1 on a free port and prints that port on stdout (one line), then
forwards each connection to 127.0.0.1:PORT. Each chunk read is written out DELAY after
it arrived, so the round trip grows by 2 x DELAY while throughput is not capped (data
keeps flowing during the delay, as on a long link). Buffering is bounded (back-pressure
stops reading from a side whose queue is full).

With --rate-mbit N, each direction of each connection is also a link of N megabits per
second: a chunk leaves only once the chunks before it have been "on the wire" for their
size at that rate, and the proxy reads no faster than that, so the sender feels the
limit through TCP back-pressure (the queue of a slow link, not a buffer that grows).
With --shared-link, every connection shares one such link per direction: one machine's
uplink (e.g. a deployer's, to all its targets).

--target may be given several times: the proxy then listens on one port per target and
prints them in that order, one a line; with --shared-link they all share the link.
With --count-bytes, it prints on exit (one JSON line) the bytes it carried each way:
{"up": client to target, "down": target to client}.

It exits after --lifetime seconds, or as soon as its stdin reaches end of file: the
parent keeps the write end of a pipe, so the proxy dies with it (so stdin must not be
/dev/null).
Python standard library only.
"""

import argparse
import asyncio
import json
import os
import sys

CHUNK = 64 * 1024
QUEUE_CHUNKS = 512  # at most 32 MiB in flight per direction
RATED_CHUNK = 16 * 1024  # finer steps when the rate is limited
# How far behind the clock the link may be and still count as busy: waking up late from
# a sleep must not cost throughput (a token bucket this deep).
RATE_SLACK = 0.02


class Link:
    """One direction of a link: its rate, when it finishes sending what it was given so
    far, and the bytes it carried."""

    def __init__(self, rate_bps):
        self.rate_bps = rate_bps
        self.sent = None
        self.bytes = 0


async def pump(reader, writer, delay, link):
    """Copy reader to writer, each chunk delivered `delay` seconds after it was read
    (after it was sent at link.rate_bps bits per second, when given)."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue(QUEUE_CHUNKS)
    rate_bps = link.rate_bps
    chunk = RATED_CHUNK if rate_bps else CHUNK

    async def read_side():
        try:
            while True:
                data = await reader.read(chunk)
                link.bytes += len(data)
                now = loop.time()
                sent = max(link.sent or now, now - (RATE_SLACK if rate_bps else 0))
                if rate_bps:
                    sent += len(data) * 8 / rate_bps
                link.sent = sent
                await queue.put((sent + delay, data))
                if not data:
                    return
                # A rate-limited link takes nothing more until this chunk is on the wire.
                if sent > loop.time():
                    await asyncio.sleep(sent - loop.time())
        except (ConnectionError, asyncio.CancelledError):
            await queue.put((loop.time() + delay, b""))

    reading = asyncio.ensure_future(read_side())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                await writer.drain()
                return
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        reading.cancel()


async def handle(client_reader, client_writer, target_port, delay, links):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    up, down = links()
    try:
        await asyncio.gather(
            pump(client_reader, server_writer, delay, up),
            pump(server_reader, client_writer, delay, down),
        )
    except asyncio.CancelledError:
        pass  # the proxy is exiting
    finally:
        for w in (client_writer, server_writer):
            w.close()


async def watch_stdin():
    """Returns when stdin reaches end of file (the parent went away)."""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    fd = sys.stdin.fileno()

    def readable():
        if not os.read(fd, 4096) and not closed.done():
            closed.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await closed
    finally:
        loop.remove_reader(fd)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, required=True, action="append",
                        help="port on 127.0.0.1 to forward to (repeat: one listening port each)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay each way (default 20)")
    parser.add_argument("--rate-mbit", type=float, default=None,
                        help="limit each direction to this many megabits per second (default: none)")
    parser.add_argument("--shared-link", action="store_true",
                        help="one link (each direction) for every connection, not one each")
    parser.add_argument("--count-bytes", action="store_true",
                        help="print the bytes carried each way on exit (JSON)")
    parser.add_argument("--lifetime", type=float, default=3600.0, help="seconds before it exits")
    args = parser.parse_args()
    delay = args.delay_ms / 1000.0
    if args.rate_mbit is not None and args.rate_mbit <= 0:
        parser.error("--rate-mbit must be positive")
    rate_bps = args.rate_mbit * 1e6 if args.rate_mbit else None

    shared = (Link(rate_bps), Link(rate_bps))
    made = []  # every link, for the byte counts

    def links():
        made.append(shared if args.shared_link else (Link(rate_bps), Link(rate_bps)))
        return made[-1]

    servers = []
    for target in args.target:
        servers.append(await asyncio.start_server(
            lambda r, w, t=target: handle(r, w, t, delay, links), "127.0.0.1", 0))
        print(servers[-1].sockets[0].getsockname()[1], flush=True)
    await asyncio.wait(
        [asyncio.ensure_future(watch_stdin()), asyncio.ensure_future(asyncio.sleep(args.lifetime))],
        return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.close()
    if args.count_bytes:
        unique = {id(pair): pair for pair in made}.values()
        print(json.dumps({"up": sum(up.bytes for up, _ in unique),
                          "down": sum(down.bytes for _, down in unique)}), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
