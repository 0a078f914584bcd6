"""Drive a command on a pseudo-terminal, as a person at a keyboard would.

Usage: pty_drive.py <script.json>. The script: {"argv": [...], "cwd": "...", "steps": [[regex, keys], ...]}.
For each step, wait (10 s at most) until the screen output matches regex, then type keys.
Prints {"code": exit code, "output": everything the terminal showed} as JSON.
"""
import fcntl
import json
import os
import pty
import re
import select
import struct
import sys
import termios
import time

script = json.load(open(sys.argv[1]))
pid, fd = pty.fork()
if pid == 0:
    os.chdir(script["cwd"])
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    os.execvpe(script["argv"][0], script["argv"], env)

# A real terminal has a size; a fresh pty reports 0 x 0.
rows, cols = script.get("size", [30, 100])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
output = b""


def read(timeout: float) -> None:
    global output
    ready, _, _ = select.select([fd], [], [], timeout)
    if ready:
        try:
            output += os.read(fd, 65536)
        except OSError:
            pass


clean = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
seen = 0
for pattern, keys in script["steps"]:
    deadline = time.time() + 10
    while time.time() < deadline:
        text = clean.sub(b"", output[seen:]).decode(errors="replace")
        match = re.search(pattern, text)
        if match:
            seen = len(output)
            break
        read(0.1)
    else:
        print(json.dumps({"code": None, "output": clean.sub(b"", output).decode(errors="replace"), "stuck_at": pattern}))
        os.kill(pid, 9)
        sys.exit(0)
    time.sleep(0.1)
    os.write(fd, keys.encode())

deadline = time.time() + 20
status = None
while time.time() < deadline:
    read(0.1)
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
read(0.2)
code = os.waitstatus_to_exitcode(status) if status is not None else None
print(json.dumps({"code": code, "output": clean.sub(b"", output).decode(errors="replace")}))
