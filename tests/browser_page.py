"""Headless Chromium for the tests that check report.html as a browser shows it, and a small DOM
of the page it dumps (Python's HTML parser; no driver package needed)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium); .ci/run installs it"
)
# Offline and sandbox-friendly: no first-run UI, no background fetches, every host name unresolvable.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
]


@dataclass
class Browser:
    dom: str
    console: list[str]  # Chromium's CONSOLE log lines: console.* calls, uncaught errors, CSP refusals


def chromium(page: Path, tmp_path: Path, *args: str, query: str = "") -> Browser:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri() + query]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return Browser(done.stdout, console)


# --- a small DOM from the dumped HTML (stdlib parser: entities come back decoded) ---------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Any] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def all(self, tag: str) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag]

    def by_id(self, ident: str) -> Node:
        (node,) = [n for n in self.walk() if n.attrs.get("id") == ident]
        return node


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if any(n.tag == tag for n in self.stack[1:]):
            while self.stack.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def table_cells(table: Node) -> tuple[list[str], list[list[str]]]:
    (thead,) = table.all("thead")
    (tbody,) = table.all("tbody")
    return [th.text() for th in thead.all("th")], [[td.text() for td in tr.all("td")] for tr in tbody.all("tr")]




def check_report_page(run_dir: Path, tmp_path: Path, n_rows: int) -> Node:
    """report.html of a real run, as Chromium shows it: the results table has `n_rows` rows and
    every PNG the report wrote (plots and learning curves) is embedded, byte for byte."""
    import base64

    loaded = chromium(run_dir / "report.html", tmp_path, "--dump-dom")
    assert not loaded.console, loaded.console
    dom = parse(loaded.dom)
    _, rows = table_cells(dom.by_id("results"))
    assert len(rows) == n_rows
    embedded = sorted(base64.b64decode(img.attrs["src"].split(",", 1)[1]) for img in dom.all("img"))
    written = sorted(p.read_bytes() for p in [*run_dir.glob("*.png"), *run_dir.glob("curves/*.png")])
    assert embedded == written and written
    return dom
