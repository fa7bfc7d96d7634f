"""Bad run configs, books and flags (issue 7 item 2): each is one line naming the key path, exit 2.

One ``Case`` per kind of bad input; ``run(...)`` and ``stress(...)`` lay out a config or book and call
the real CLI. Every row also asserts no traceback and nothing written (see ``harness.check``).
"""

from __future__ import annotations

import pytest

from tests.reliability.harness import GOOD_CONFIG, Case, check

HOLD = '[strategy]\nname = "hold"\nparams = { positions = { BTCUSDT = 0.1 } }\n'
BOOK = """\
[account]
wallet = 10000
as_of = "2024-09-27T08:00"
[[positions]]
symbol = "BTCUSDT"
qty = 1
entry = 60000
mark = 60000
"""
ROW = BOOK[BOOK.index("[[positions]]") :]
HOURS = 100
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z in ms
KLINES = "open_time,open,high,low,close,volume\n" + "".join(
    f"{T0 + h * 3_600_000},100,101,99,100,1\n" for h in range(HOURS)
)  # 2024-01-01 00:00 .. 2024-01-05 03:00, one symbol: a tidy data folder that covers only 2024
DATA = {"data/binance-um/klines/1h/BTCUSDT.csv": KLINES}
ONE_SYMBOL = 'name = "h"\n[market]\nsymbols = ["BTCUSDT"]\n' + HOLD


def run(id: str, toml: str, expect: str, *flags: str, market: str = "[market]\nbars = 48\n") -> Case:
    """``pmsim run c.toml``: a name, ``market``, a hold book (unless ``toml`` has a strategy), ``toml``."""
    strategy = "" if toml.startswith("[strategy]") else HOLD
    text = 'name = "bad"\n' + market + strategy + toml
    return Case(id, ("run", "c.toml", "--out", "out", *flags), expect, files={"c.toml": text})


def raw(id: str, content: str | bytes, expect: str) -> Case:
    return Case(id, ("run", "c.toml", "--out", "out"), expect, files={"c.toml": content})


def stress(id: str, expect: str, *flags: str, book: str | bytes = BOOK) -> Case:
    return Case(id, ("stress", "b.toml", *flags), expect, files={"b.toml": book})


def book(id: str, old: str, new: str, expect: str) -> Case:
    assert old in BOOK
    return Case(id, ("margin", "b.toml"), expect, files={"b.toml": BOOK.replace(old, new)})


CASES = [
    # types: every value is checked against its field's type, with the key path
    run("seed-text", "", "market.seed: expected a whole number", market='[market]\nseed = "x"\n'),
    run("bars-fraction", "", "market.bars: expected a whole number", market="[market]\nbars = 1.5\n"),
    run("stages-not-list", "[allocator]\nstages = 5\n", "allocator.stages: expected a list"),
    run("stages-item", '[allocator]\nstages = [0.5, "x"]\n', "allocator.stages[1]: expected a finite number"),
    run("symbols-not-list", "", "market.symbols: expected a list", market="[market]\nsymbols = 5\n"),
    run("params-not-table", '[strategy]\nname = "hold"\nparams = "x"\n', "strategy.params: expected a table"),
    run("qty-lots", HOLD.replace("0.1", '"lots"'), "strategy.params.positions.BTCUSDT: expected a finite"),
    run("qty-nan", HOLD.replace("0.1", "nan"), "strategy.params.positions.BTCUSDT: expected a finite number"),
    run("wallet-inf", "[account]\nwallet = inf\n", "account.wallet: expected a finite number, got inf"),
    run("wallet-negative", "[account]\nwallet = -5\n", "account.wallet must be positive"),
    run(
        "leverage-nan", "[regime]\nparams = { leverage = nan }\n", "regime.params.leverage: expected a finite"
    ),
    run(
        "stop-text", '[allocator]\nstop_drawdown = "x"\n', "allocator.stop_drawdown: expected a finite number"
    ),
    run("market-not-table", "", "market: expected a table", market="market = 3\n"),
    # ranges and names
    run("bars-one", "", "market.bars must be at least 2", market="[market]\nbars = 1\n"),
    run("seed-negative", "", "market.seed must be a whole number >= 0", market="[market]\nseed = -1\n"),
    run(
        "kind-typo",
        "",
        "market.kind: expected one of 'synthetic', 'history'",
        market='[market]\nkind = "hist"\n',
    ),
    run(
        "shock-no-fraction",
        "[stress]\nshocks = { BTC = -30 }\n",
        "stress.shocks.BTC must be a non-zero fraction",
    ),
    run("stress-every", "[stress]\nevery = -1\n", "stress.every must be >= 0"),
    run("liquidation-mode", '[account]\nliquidation = "sometimes"\n', "account.liquidation must be 'full'"),
    raw("name-empty", 'name = ""\n' + HOLD, "name is empty"),
    raw("name-dot", 'name = "."\n' + HOLD, "name is '.' or '..'"),
    raw("name-absolute", 'name = "/abs"\n' + HOLD, "name holds a path separator"),
    raw("name-parent", 'name = "../../x"\n' + HOLD, "name holds a path separator"),
    raw("name-nul", 'name = "a\\u0000b"\n' + HOLD, "name holds a control character"),
    # unknown names: the options are listed
    run(
        "unknown-key",
        "",
        "unknown key in [market]: 'sed'; did you mean 'seed'?",
        market="[market]\nsed = 3\n",
    ),
    run("unknown-table", "[marker]\nbars = 3\n", "unknown key in [top level]: 'marker'"),
    run("unknown-regime", '[regime]\nname = "crosss"\n', "unknown margin regime 'crosss'"),
    run("unknown-preset", '[regime]\nname = "portfolio"\npreset = "binanc"\n', "unknown portfolio preset"),
    run("unknown-strategy", '[strategy]\nname = "adxx"\n', "unknown strategy 'adxx'"),
    run("unknown-param", '[strategy]\nname = "adx"\nparams = { windw = 3 }\n', "[strategy.params]: 'windw'"),
    run("missing-param", '[strategy]\nname = "hold"\nparams = {}\n', "strategy.params.positions: required"),
    run("unknown-symbol", HOLD.replace("BTCUSDT", "DOGEUSDT"), "strategy.params.positions.DOGEUSDT: unknown"),
    # dates: parsed with offsets, refused in one line at load time
    run("start-garbage", "", "market.start: not a date", market='[market]\nstart = "garbage"\n'),
    run(
        "start-time-only",
        "",
        "market.start: a time of day without a date",
        market="[market]\nstart = 08:00:00\n",
    ),
    run(
        "date-in-free-table",
        "[regime]\nparams = { leverage = 2024-01-01 }\n",
        "regime.params.leverage: dates",
    ),
    run("flag-start-garbage", "", "argument --start: not a date", "--start", "garbage"),
    run("flag-end-month-13", "", "argument --end: not a date", "--end", "2024-13-01"),
    run("end-on-synthetic", "", "market.end applies to history", "--end", "2024-02-01"),
    # history is one switch: --data with the config's dates; a window outside the data names its range
    Case(
        "window-before-data",
        ("run", "c.toml", "--out", "out", "--data", "data", "--start", "2021-01-01", "--end", "2021-02-01"),
        "covers 2024-01-01T00:00 .. 2024-01-05T03:00",
        files={"c.toml": ONE_SYMBOL, **DATA},
    ),
    Case(
        "window-past-data",
        ("run", "c.toml", "--out", "out", "--data", "data", "--start", "2024-01-02"),
        "covers 2024-01-01T00:00 .. 2024-01-05T03:00",
        files={"c.toml": ONE_SYMBOL, **DATA},
    ),
    Case(
        "config-window-end-before-start",
        ("run", "c.toml", "--out", "out", "--data", "data"),
        "market.end 2023-01-01T23:00:00 is before market.start",
        files={"c.toml": ONE_SYMBOL.replace("[market]\n", '[market]\nend = "2023-01-01"\n'), **DATA},
    ),
    # files that are not configs
    Case("config-missing", ("run", "nope.toml"), "cannot read config nope.toml"),
    Case("config-is-folder", ("run", "d"), "cannot read config d", setup=lambda root: (root / "d").mkdir()),
    raw("config-not-toml", "[market\n", "not valid TOML"),
    raw("config-utf16", GOOD_CONFIG.encode("utf-16"), "UTF-16"),
    raw("config-binary", bytes(range(256)) * 4, "not UTF-8 text"),
    raw("config-nul-bytes", b"name = 'a'\x00\n", "not valid TOML"),
    raw("config-deep", "x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    raw("config-huge", "# " + "x" * (5 * 1024 * 1024) + "\n", "too large for a config"),
    # memory: estimated before allocating
    run("bars-10e12", "", "GiB of memory", market="[market]\nbars = 1000000000000\n"),
    # demo flags
    Case("demo-bars-zero", ("demo", "--out", "out", "--bars", "0"), "argument --bars"),
    Case("demo-seed-text", ("demo", "--out", "out", "--seed", "x"), "argument --seed"),
    # books (pmsim margin / stress)
    book("book-qty-lots", "qty = 1", 'qty = "lots"', "positions[0].qty: expected a finite number"),
    book("book-qty-nan", "qty = 1", "qty = nan", "positions[0].qty: expected a finite number"),
    book("book-wallet-negative", "wallet = 10000", "wallet = -1", "account.wallet: must be >= 0"),
    book("book-wallet-inf", "wallet = 10000", "wallet = inf", "account.wallet: expected a finite number"),
    book("book-as-of-garbage", '"2024-09-27T08:00"', '"soon"', "account.as_of: not a date"),
    book("book-expired", 'symbol = "BTCUSDT"', 'symbol = "BTCUSDT_240628"', "delivered at 2024-06-28"),
    book(
        "book-unknown-key",
        "entry = 60000",
        "entry = 60000\nentyr = 1",
        "unknown key in [positions[0]]: 'entyr'",
    ),
    book("book-mmr-above-1", "mark = 60000", "mark = 60000\nmmr = 4\ncum = 0", "positions[0].mmr"),
    book("book-entry-negative", "entry = 60000", "entry = -60000", "positions[0].entry: must be positive"),
    book("book-mmr-alone", "mark = 60000", "mark = 60000\nmmr = 0.01", "give both mmr and cum"),
    book("book-no-positions", "[[positions]]", "[[other]]", "unknown key in [top level]: 'other'"),
    book(
        "book-twice",
        "[[positions]]",
        BOOK[BOOK.index("[[positions]]") :] + "[[positions]]",
        "BTCUSDT appears twice",
    ),
    Case("book-missing", ("margin", "nope.toml"), "cannot read book file nope.toml"),
    stress("book-utf16", "UTF-16", "--shock", "BTC=-30%", book=BOOK.encode("utf-16")),
    stress(
        "book-deep", "nested too deeply", "--shock", "BTC=-30%", book="x = " + "{a=" * 3000 + "1" + "}" * 3000
    ),
    # stress flags
    stress("shock-minus-150", "above -100%", "--shock", "BTC=-150%"),
    stress("shock-no-percent", "needs a percent sign", "--shock", "BTC=-30"),
    stress("shock-garbage", "is not a move", "--shock", "BTC=lots"),
    stress("shock-twice", "--shock BTC is given twice", "--shock", "BTC=-30%", "--shock", "BTC=-20%"),
    stress("shock-unknown-underlying", "unknown --shock underlying 'SOL'", "--shock", "SOL=-30%"),
    stress("corr-nan", "argument --corr: 'nan' is outside [-1, 1]", "--shock", "BTC=-30%", "--corr", "nan"),
    stress("corr-two", "argument --corr: '2' is outside [-1, 1]", "--shock", "BTC=-30%", "--corr", "2"),
    stress("basis-inf", "argument --basis-widen", "--shock", "BTC=-30%", "--basis-widen", "inf"),
    stress("credit-rate-nan", "argument --credit-rate", "--shock", "BTC=-30%", "--credit-rate", "nan"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_one_line(case: Case, tmp_path) -> None:
    check(case, tmp_path)


def test_every_row_is_a_distinct_kind() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 35
