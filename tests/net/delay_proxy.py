"""A loopback TCP proxy that adds latency, for tests whose point needs a round trip longer
than loopback's (the kernel here has no netem). It listens on a free 127.0.0.1 port,
forwards every connection to 127.0.0.1:$TD_NGINX_PORT holding each chunk DELAY_MS in each
direction, and runs CMD with TD_NGINX_PORT set to its own port. It exits with CMD's status
when CMD ends (so it is bounded by CMD and by the test's timeout).

usage: delay_proxy.py DELAY_MS -- CMD ARGS...
"""
import asyncio
import os
import sys


async def pipe(reader, writer, delay, loop):
    """Forwards chunks in order, each DELAY after it arrived (reading goes on meanwhile)."""
    q = asyncio.Queue()

    async def send():
        while True:
            due, data = await q.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            q.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    finally:
        q.put_nowait((0, None))
        try:
            await sender
        except ConnectionError:
            pass


async def main():
    delay = float(sys.argv[1]) / 1000.0
    if sys.argv[2] != "--":
        sys.exit("usage: delay_proxy.py DELAY_MS -- CMD ARGS...")
    cmd = sys.argv[3:]
    target = int(os.environ["TD_NGINX_PORT"])
    loop = asyncio.get_running_loop()

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw, delay, loop), pipe(ur, cw, delay, loop),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    env = dict(os.environ, TD_NGINX_PORT=str(port), TD_DELAY_MS=sys.argv[1])
    proc = await asyncio.create_subprocess_exec(*cmd, env=env)
    rc = await proc.wait()
    server.close()
    return rc


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
