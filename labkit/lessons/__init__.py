"""Each lesson's exercises: importing this package registers all of them."""

from . import welcome  # noqa: F401
