"""Draw a finished trace as a sequence diagram (``t.diagram()``).

One lifeline per socket, time running down, a row per call. Arrows: dashed for
opening and closing (connect's SYN, accept's new socket, a FIN), solid for
data, dotted for the earlier sends that also fed a recv. The listener's
lifeline is a pale band behind the others, and where an arrow passes a
lifeline it does not end on, the lifeline has a white gap: the arrow goes over
it, not through it. A legend under the diagram says what the marks mean.
"""

from __future__ import annotations

from labkit.seeing.figures import _drawable, _figure, _fonts
from labkit.seeing.tracesteps import _SHUT, _preview

__all__: list[str] = []

_COLOURS = {"listener": "#c05621", "client": "#2b6cb0", "conn": "#2f855a", "socket": "#4a5568"}
_FIN, _SYN, _ERROR, _INK, _GREY = "#c53030", "#6b46c1", "#c53030", "#1a202c", "#4a5568"
_LEGEND_ROWS = 1.2  # rows of space under the last call for the legend


def _draw(tracer, *, width=None, limit=14):
    """The trace's Figure: lifelines, calls, arrows and the legend."""
    families, _ = _fonts()
    lines, steps = tracer.lifelines, tracer.steps
    ncols, nrows = max(1, len(lines)), len(steps)
    fig = _figure((width or max(7.6, 3.3 * ncols + 0.6),
                   1.6 + 0.6 * (max(nrows, 1) + _LEGEND_ROWS)))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(-0.62, ncols - 0.38)
    ax.set_ylim(nrows + 0.1 + _LEGEND_ROWS, -1.75)
    ax.axis("off")
    font = {"family": families, "fontsize": 12}
    box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}
    row = {id(s): i for i, s in enumerate(steps)}
    alive = {}  # column -> (first row, last row) of its lifeline
    styles = set()  # the arrow styles drawn, for the legend

    def label(x, y, text, *, side=1, colour=_INK, above=False, below=False):
        dy, va = (-0.14, "bottom") if above else (0.1, "top") if below else (0, "center")
        ax.text(x + 0.07 * side, y + dy, _drawable(text), color=colour, va=va,
                ha="left" if side > 0 else "right", bbox=box, zorder=4, **font)

    def arrow(x0, y0, x1, y1, colour, style="-"):
        styles.add(style)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=3, arrowprops={
            "arrowstyle": "-|>", "color": colour, "lw": 2.0, "linestyle": style,
            "mutation_scale": 20, "shrinkA": 3, "shrinkB": 3})
        for column in range(min(x0, x1) + 1, max(x0, x1)):  # lifelines passed over
            y = y0 + (y1 - y0) * (column - x0) / (x1 - x0)
            first, last = alive.get(column, (0, -1))
            if first <= y <= last:
                ax.plot([column, column], [y - 0.16, y + 0.16], color="white", lw=9,
                        solid_capstyle="butt", zorder=2.5)

    ax.text(-0.6, -1.55, "time ↓", fontsize=11, color="#718096", va="top", family=families)
    for line in lines:
        x, colour = line.column, _COLOURS[line.role]
        birth = next((row[id(s)] for s in steps if s.new is line), None)
        if line.created and line.steps and line.steps[0].call == "socket":
            birth = row[id(line.steps[0])]
        start = -0.45 if birth is None else birth
        closes = [row[id(s)] for s in line.steps if s.call == "close"]
        end = closes[0] if closes else nrows - 0.2
        alive[x] = (start, end)
        ax.text(x, -1.2, _drawable(line.name), ha="center", va="center", fontsize=13,
                color="white", family=families, zorder=5,  # no bold: CJK fonts lack it
                bbox={"boxstyle": "round,pad=0.35", "facecolor": colour, "edgecolor": colour})
        kind = line.kind if line.role != "socket" else "socket"
        ax.text(x, -0.72, kind, ha="center", va="center", fontsize=10.5, color=colour,
                style="italic", family="DejaVu Sans")  # ASCII; an italic CJK font is rare
        ax.plot([x, x], [-0.55, start], color="#cbd5e0", lw=1, ls=":", zorder=1)
        if line.role == "listener":  # a pale band behind: it only waits for connections
            ax.plot([x, x], [start, end], color=colour, lw=6, alpha=0.25, zorder=1,
                    solid_capstyle="butt")
        else:
            ax.plot([x, x], [start, end], color=colour, lw=3, zorder=2)
        if closes:
            ax.plot([x], [end], marker="x", markersize=13, mew=3, color=colour, zorder=5)
    for i, step in enumerate(steps):
        line = step.line
        x, colour = line.column, _COLOURS[line.role]
        side = -1 if x == ncols - 1 and ncols > 1 else 1
        ax.plot([x], [i], marker="o", markersize=5, color=colour, zorder=5)
        partner = line.partner
        target = step.peer_step
        if step.call == "connect" and not step.error and target is not None:
            tx = target.line.column
            arrow(x, i, tx, row[id(target)], _SYN, "--")
            label(x, i, "connect(): SYN", side=1 if tx > x else -1, colour=_SYN, above=True)
        elif step.call == "accept" and step.new is not None:
            tx = step.new.column
            arrow(x, i, tx, i, colour, "--")
            label(x, i, "accept() → new socket", side=1 if tx > x else -1, colour=colour,
                  above=True)
        elif step.is_send and (partner is not None or target is not None):
            dest = target.line if target is not None else partner
            y1 = row[id(target)] if target is not None else i + 0.6
            arrow(x, i, dest.column, y1, colour)
            label(x, i, f"{step.call} {step.nbytes} B {_preview(step.data, limit)}",
                  side=1 if dest.column > x else -1, colour=colour, above=True)
        elif step.fin and partner is not None:
            y1 = row[id(target)] if target is not None else i + 0.6
            arrow(x, i, partner.column, y1, _FIN, "--")
            what = "close()" if step.call == "close" else f"shutdown({_SHUT.get(step.arg, step.arg)})"
            label(x, i, f"{what}: FIN", side=1 if partner.column > x else -1, colour=_FIN,
                  above=True)
        else:
            text = step.describe(limit).replace(" bytes ", " B ")
            if step.is_recv:
                text = text.split("(", 1)[0] + text[text.index(")") + 1:]  # recv → 6 B '…'
            if step.is_eof:
                text = "recv → b'' (FIN read)"  # the FIN arrow ends here: read, not arrived
            # what arrived from another socket: the label goes under the arrow's head
            incoming = next((p for p in step.after
                             if step.is_recv and p.line is line.partner is not None), None)
            if step.is_recv and step.nbytes and partner is not None:
                for send in partner.steps:  # sends that fed part of this piece: a thin arrow
                    if (send.is_send and send.peer_step is not step and send.start < step.end
                            and send.end > step.start):
                        arrow(partner.column, row[id(send)], x, i, _COLOURS[partner.role], ":")
                        incoming = incoming or send
            if incoming is not None:
                side = 1 if incoming.line.column > x else -1
            label(x, i, text, side=side, colour=_ERROR if step.error else _INK,
                  below=incoming is not None)
    _legend(ax, families, dotted=":" in styles)
    return fig


def _legend(ax, families, *, dotted: bool) -> None:
    """Two rows under the diagram: what SYN, FIN and B mean, and the arrow styles."""
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnchoredOffsetbox, DrawingArea, HPacker, TextArea, VPacker

    props = {"fontsize": 12, "color": _GREY, "family": families}

    def words(text):
        return TextArea(text, textprops=props)

    def sample(style):
        area = DrawingArea(34, 10)
        area.add_artist(Line2D([2, 32], [5, 5], color=_GREY, lw=2, linestyle=style))
        return area

    terms = words("SYN: connection request  ·  FIN: no more data from this side  ·  "
                  "6 B = 6 bytes")
    keys = [sample("-"), words("data"), words("   "), sample("--"),
            words("opening / closing (SYN, accept, FIN)")]
    if dotted:
        keys += [words("   "), sample(":"), words("earlier part of the same send")]
    rows = VPacker(children=[terms, HPacker(children=keys, align="center", pad=0, sep=4)],
                   align="left", pad=0, sep=6)
    ax.add_artist(AnchoredOffsetbox(loc="lower left", child=rows, pad=0.4, borderpad=0.2,
                                    frameon=False))
