"""The embedded default's Celery broker: kombu's filesystem transport, with each
message published whole.

kombu's own channel creates a message's file in the queue folder and only then
writes it; a worker that lists the folder in between takes the empty file,
fails to decode it and stops ("Unrecoverable error: JSONDecodeError"), and
`berth serve` with it. Here the message is written under a name the worker does
not take (it takes only `<...>.<queue>.msg`), then renamed into place: a rename
within one folder is atomic, so a worker sees a message whole or not at all."""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"writing-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
