"""A chat panel for the notebook: two or three clients of one chat server, side by side."""

from __future__ import annotations

__all__ = ["ChatPanel", "chat_panel"]


class ChatPanel:
    """Two or three chat clients side by side in one notebook cell.

    >>> from labkit import serve, ChatRoom
    >>> with serve(ChatRoom()) as server:
    ...     panel = ChatPanel(server, ["alice", "bob"])   # one console each: type, press send
    ...     panel.say("alice", "你好")                     # or drive it from code
    ...     print(panel.transcript("bob"))
    ...     panel.close()
    → /nick bob
    ← alice: 你好

    Each client is a :class:`labkit.seeing.console.Console` (its reader thread only
    appends to an Output widget); the panel shows a fixed text/plain.
    """

    def __init__(self, target, names=("alice", "bob")):
        import ipywidgets as w

        from labkit.seeing.console import Console

        self.target = target
        self.names = list(names)
        self.consoles = {}
        try:
            for name in self.names:
                self.consoles[name] = Console(target, newline="\n", title=name)
                self.consoles[name].send(f"/nick {name}")
        except BaseException:
            self.close()
            raise
        self.wait_quiet()  # every client is in the room before anyone speaks
        self.widget = w.HBox([c.widget for c in self.consoles.values()])

    def say(self, name: str, text: str) -> None:
        """Send *text* as *name*, then wait until every client has shown what arrived."""
        self.consoles[name].send(text)
        self.wait_quiet()

    def wait_quiet(self, timeout: float = 2.0) -> None:
        for console in self.consoles.values():
            console.wait_quiet(timeout)

    def transcript(self, name: str) -> str:
        """What client *name* sent (→) and received (←)."""
        return self.consoles[name].transcript()

    def close(self) -> None:
        """Close every client (each leaves the room); quick, safe to call twice."""
        for console in self.consoles.values():
            console.close()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        bundle["text/plain"] = repr(self)  # fixed: the widget's own repr changes
        return bundle

    def __repr__(self) -> str:
        return f"<ChatPanel: {', '.join(self.names)}>"


def chat_panel(target, names=("alice", "bob")) -> ChatPanel:
    """A :class:`ChatPanel` of clients *names* connected to the chat server *target*.

    >>> from labkit import serve, ChatRoom
    >>> with serve(ChatRoom()) as server:
    ...     panel = chat_panel(server, ["alice", "bob", "carol"])
    ...     panel
    ...     panel.close()
    <ChatPanel: alice, bob, carol>
    """
    return ChatPanel(target, names)
