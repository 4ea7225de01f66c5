"""matplotlib figures that can draw the course's Chinese text, and never warn.

    families, covered = _fonts()     # DejaVu Sans plus one installed CJK font
    _drawable("你好")                 # as is, or '\\u4f60\\u597d' if no font has them
    fig = _figure((7, 3))            # shown once, as a PNG, as a cell's value

Used by the sequence diagrams (seqdiagram) and the socket-state grid (kernelview).
"""

from __future__ import annotations

import functools

__all__: list[str] = []

_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
              "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN",
              "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC",
              "Noto Sans CJK JP", "Noto Sans CJK TC", "Arial Unicode MS")


@functools.cache
def _fonts():
    """The font families to draw with, and the code points they can draw."""
    from matplotlib import font_manager, ft2font

    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans"] + [name for name in _CJK_FONTS if name in installed][:1]
    covered: set[int] = set()
    for family in families:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family),
                                         fallback_to_default=False)
            covered |= set(ft2font.FT2Font(path).get_charmap())
        except (ValueError, OSError, RuntimeError):
            continue
    return families, frozenset(covered)


def _drawable(text: str) -> str:
    """*text* with the characters no installed font can draw written as escapes
    (``\\u4f60``), so matplotlib never warns about a missing glyph."""
    _, covered = _fonts()
    text = text.replace("$", "\\$")  # not the start of mathtext
    if not covered:
        return text.encode("ascii", "backslashreplace").decode()
    return "".join(c if ord(c) in covered or c == "\n"
                   else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
                   for c in text)


def _figure(size):
    """A new Figure that a cell shows once, as an image, when it is the cell's value.

    Made through pyplot, so that the notebook's backend is loaded (it is what teaches
    IPython to show a Figure as a PNG), then closed, so that pyplot does not show it a
    second time at the end of the cell.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size)
    plt.close(fig)
    return fig

