"""An SMTP server for the several-hosts test: records each message (to, subject, and
the (label, milestone id) of each alert in it) as a JSON line; optionally slow."""

from __future__ import annotations

import email
import email.policy
import json
import re
import sys
import threading
import time

from aiosmtpd.controller import Controller

host, port, path, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
lock = threading.Lock()
ITEM = re.compile(r"^\[([^\]]+)\] .*?\n(?:.*\n)*?\s+Page: \S*/milestones/(\d+)/", re.M)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        time.sleep(delay)  # a slow SMTP server: deliveries are in flight for a while
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))
        text = part.get_content() if part else ""
        items = [[label, int(pk)] for label, pk in ITEM.findall(text)]
        line = json.dumps({"to": msg["To"], "subject": msg["Subject"], "items": items})
        with lock, open(path, "a") as out:
            out.write(line + "\n")
        return "250 OK"


controller = Controller(Sink(), hostname=host, port=port)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
