"""Each lesson's exercises: importing this package registers all of them."""

from . import welcome  # noqa: F401  (lesson 00)
from . import bind, create, listen  # noqa: F401  (lessons 01-03)
from . import close, connect, sendrecv  # noqa: F401  (lessons 04-06)
from . import manyclients, udp  # noqa: F401  (lessons 07-08)
from . import languages  # noqa: F401  (lesson 09)
from . import chat  # noqa: F401  (lesson 10)
from . import tls  # noqa: F401  (lesson 12)
