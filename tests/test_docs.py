"""The documentation stands on its own: every relative link in README.md and docs/*.md resolves to a file
of the repository (and an anchor to a heading of that file), and nothing points outside the clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
COMMENT = re.compile(r"<!--.*?-->", re.S)
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text without code blocks, inline code and comments (links there are not links)."""
    return INLINE_CODE.sub("", COMMENT.sub("", FENCE.sub("", text)))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(page: Path, repo: Path = REPO) -> list[str]:
    """Relative links of ``page`` that name no file or folder inside ``repo``, or no heading."""
    problems = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(repo.resolve()) or not resolved.exists():
            problems.append(f"{target}: no such file in the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return problems


def test_docs_pages_exist():
    names = {p.name for p in PAGES}
    assert {"README.md", "concepts.md", "margin-regimes.md", "data.md", "run-folder.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_nothing_points_outside_the_clone(page: Path):
    assert "../shared" not in page.read_text(encoding="utf-8")


def test_the_checker_catches_bad_links(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Real heading\n", encoding="utf-8")
    page = tmp_path / "docs" / "a.md"
    page.write_text(
        "## Own part\n"
        "[ok](b.md) [ok](b.md#real-heading) [ok](#own-part) [web](https://example.com/x)\n"
        "`[not a link](nowhere.md)`\n"
        "```\n[not a link either](nowhere.md)\n```\n"
        "[missing](c.md) [bad anchor](b.md#other) [outside](../../etc/passwd) [bad own](#nope)\n",
        encoding="utf-8",
    )
    assert broken_links(page, tmp_path) == [
        "c.md: no such file in the repository",
        "b.md#other: no heading #other in b.md",
        "../../etc/passwd: no such file in the repository",
        "#nope: no heading #nope in a.md",
    ]


def test_slugs_follow_github():
    assert slug("Tiered brackets") == "tiered-brackets"
    assert slug("Prices: last trade and mark") == "prices-last-trade-and-mark"
    assert slug("`pmsim data`") == "pmsim-data"
    assert slug("Anchoring: which requirement is the scenario loss") == (
        "anchoring-which-requirement-is-the-scenario-loss"
    )


def test_the_compiled_coverage_concepts_states_is_what_the_kernel_runs():
    """concepts.md says every allocator rule compiles and several sleeves do not; hold the page to it."""
    import pmsim

    text = " ".join((REPO / "docs" / "concepts.md").read_text().split())
    assert "every allocator rule (drawdown stop, stages, band, buffer floor, MUR cap)" in text
    rules = {"stop_drawdown": 0.3, "stages": [0.5, 1.0], "stage_window": 24, "stage_drawdown": 0.05}
    rules |= {"rebalance_band": 0.1, "buffer_floor": 1.2, "mur_cap": 0.7}
    book = {"market": {"bars": 120}, "allocator": rules, "engine": "compiled"}
    assert pmsim.run(book).notes[-1] == "engine: compiled (numba kernel)"
    hold = {"strategy": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}
    sleeves = [{"name": "a", **hold}, {"name": "b", **hold}]
    with pytest.raises(pmsim.ConfigError, match="2 sleeves"):
        pmsim.run({"market": {"bars": 120}, "sleeves": sleeves, "engine": "compiled"})


def test_concepts_describes_every_strategy_that_ships():
    from pmsim.simulator.build import STRATEGIES

    text = (REPO / "docs" / "concepts.md").read_text()
    for name in STRATEGIES:
        assert f"`{name}` (" in text, name


def test_a_hold_book_without_rules_is_still_cut_by_the_venue_and_buys_back_after_a_liquidation():
    """README and concepts say so: no allocator rule runs, yet the fill-time IM check cuts orders."""
    import pmsim

    hold = {"name": "hold", "params": {"positions": {"BTCUSDT": 3.0}}}
    book = {"market": {"bars": 2000}, "regime": {"name": "isolated"}, "account": {"wallet": 10000.0}}
    result = pmsim.run({**book, "strategy": hold})
    events = result.events
    assert result.config["resolved"]["allocator"] == []
    assert set(events.loc[events["kind"].isin(["cut", "rejection"]), "note"]) == {"initial margin check"}
    liquidated = events.loc[events["kind"] == "liquidation", "time"].min()
    assert (events.loc[events["kind"] == "fill", "time"] > liquidated).any()  # bought back
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "so a `hold` book is never resized" not in readme and "`initial margin check`" in readme
