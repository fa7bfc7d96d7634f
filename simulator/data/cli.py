"""``pmsim data ...``: fetch, import, list and validate real history; ``--data`` for other commands.

Only the standard library is imported at module level so ``pmsim --help`` stays instant; each
handler imports the data modules when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_TYPES = ("klines", "markPriceKlines", "fundingRate")
MAX_WORKERS = 32

FETCH_EPILOG = """\
examples:
  pmsim data fetch --symbols BTCUSDT ETHUSDT --quarterlies --start 2020-01 --end 2025-03
  pmsim data fetch --symbols ETHUSDT --types premiumIndexKlines --interval 4h --start 2024-01 --end 2024-06

Files come from Binance's public archive (data.binance.vision), each checked against its published
sha256 .CHECKSUM. Files already verified are skipped, so an interrupted fetch resumes. A missing
monthly file falls back to its daily files; what is still missing is listed at the end.
A download replaces a cached file only after it has been parsed and validated; a fetch in which a
file fails rebuilds no series. Zip members inflating beyond 64 MiB are refused.
Quarterly symbols (BTCUSDT_240628, ...) are generated from the delivery calendar.
"""

IMPORT_EPILOG = """\
example:
  pmsim data import ~/binance-data

DIR uses the tidy layout
  binance-{um,cm,spot}/{klines,markPriceKlines,premiumIndexKlines}/{interval}/SYMBOL.csv,
binance-um/fundingRate/SYMBOL.csv and binance-um/quarterly/{interval}/SYMBOL_YYMMDD.csv (+ contracts.csv).
Every file is validated before anything is written; the first bad row stops the import.
The cache's manifest.json is written last: a cache an interrupted import left without a matching
manifest is refused by `list`, `validate` and `--data` until an import or fetch completes. One
import or fetch at a time: a second one fails at once with a "locked" error.
"""


def _cache_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="Parquet cache folder (default: datasets/cache in the repository)",
    )


def register(subparsers: Any) -> None:
    """Add the ``data`` command group."""
    data = subparsers.add_parser(
        "data",
        help="fetch, import, list and validate real market history",
        description="Real Binance history in a local Parquet cache: fetch it, import it, inspect it.",
        epilog="Then run on it with `--data DIR`, e.g. `pmsim run CONFIG.toml --data datasets/cache`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = data.add_subparsers(title="data commands", metavar="COMMAND", parser_class=type(data))
    data.set_defaults(handler=lambda args: (data.print_help(), 2)[1])

    fetch = commands.add_parser(
        "fetch",
        help="download archive files into the cache",
        epilog=FETCH_EPILOG,
        description="Download Binance USDⓈ-M klines, mark/index/premium klines and funding into the cache.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument(
        "--symbols", nargs="+", required=True, metavar="SYMBOL", help="perpetuals, e.g. BTCUSDT ETHUSDT"
    )
    fetch.add_argument("--quarterlies", action="store_true", help="also fetch their quarterly contracts")
    fetch.add_argument(
        "--types",
        nargs="+",
        default=list(DEFAULT_TYPES),
        metavar="TYPE",
        help="klines markPriceKlines indexPriceKlines premiumIndexKlines fundingRate "
        f"(default: {' '.join(DEFAULT_TYPES)})",
    )
    fetch.add_argument("--interval", default="1h", help="kline interval (default: 1h)")
    fetch.add_argument("--start", required=True, metavar="YYYY-MM", help="first month")
    fetch.add_argument("--end", required=True, metavar="YYYY-MM", help="last month")
    fetch.add_argument(
        "--base-url", default=None, metavar="URL", help="archive root (default: https://data.binance.vision/)"
    )
    fetch.add_argument(
        "--workers", type=int, default=4, help=f"parallel downloads, 1 to {MAX_WORKERS} (default: 4)"
    )
    _cache_arg(fetch)
    fetch.set_defaults(handler=_fetch)

    imp = commands.add_parser(
        "import",
        help="import a tidy CSV folder (e.g. ~/binance-data) into the cache",
        epilog=IMPORT_EPILOG,
        description="Validate and import a folder of CSVs in the tidy layout into the Parquet cache.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("source", type=Path, metavar="DIR", help="folder in the tidy layout")
    _cache_arg(imp)
    imp.set_defaults(handler=_import)

    lst = commands.add_parser(
        "list",
        help="list the series in the cache",
        description="One line per cached series: rows, first and last bar.",
        epilog="example:\n  pmsim data list --cache /tmp/cache",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _cache_arg(lst)
    lst.set_defaults(handler=_list)

    val = commands.add_parser(
        "validate",
        help="validate every series of the cache or of a tidy folder",
        description="Check ordering, duplicates, NaN, high < low, prices and listing times; report gaps.",
        epilog="examples:\n  pmsim data validate\n  pmsim data validate ~/binance-data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    val.add_argument(
        "source",
        type=Path,
        nargs="?",
        default=None,
        metavar="DIR",
        help="a cache or tidy folder (default: the cache)",
    )
    _cache_arg(val)
    val.set_defaults(handler=_validate)


def _cache(args: argparse.Namespace) -> Any:
    from pmsim.simulator.data.cache import DEFAULT_CACHE, Cache

    return Cache(args.cache or DEFAULT_CACHE)


def _stamp(ms: int) -> str:
    import numpy as np

    return str(np.datetime64(int(ms), "ms").astype("datetime64[m]")).replace("T", " ")


def _print_reports(rows: list[Any]) -> None:
    for key, report in rows:
        gaps = f"{len(report.gaps)} gaps ({report.missing} bars)" if report.gaps else "no gaps"
        print(
            f"{str(key):40s} {report.rows:8d} rows  "
            f"{_stamp(report.first_ms)} .. {_stamp(report.last_ms)}  {gaps}"
        )
        if report.gaps:
            print(
                "    gaps (last bar before + bars missing): "
                + ", ".join(str(g) for g in report.gaps[:12])
                + (" ..." if len(report.gaps) > 12 else "")
            )


def fetch_request(args: argparse.Namespace) -> Any:
    """The fetch ``Request`` from the command line, every value checked before any network or disk work."""
    from pmsim.simulator.data.archive import DATA_TYPES, check_choice, interval_ms, months
    from pmsim.simulator.data.fetch import Request
    from pmsim.simulator.errors import ConfigError
    from pmsim.simulator.market.instruments import parse_symbol

    for symbol in args.symbols:
        if parse_symbol(symbol)[2] is not None:
            raise ConfigError(f"--symbols takes perpetuals such as BTCUSDT, not {symbol}; add --quarterlies")
    for data_type in args.types:
        check_choice("data type", data_type, DATA_TYPES)
    interval_ms(args.interval)
    months(args.start, args.end)
    if not 1 <= args.workers <= MAX_WORKERS:
        raise ConfigError(f"--workers {args.workers} is out of range: give 1 to {MAX_WORKERS}")
    if args.base_url is not None and not args.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url {args.base_url!r} is not an http:// or https:// URL")
    return Request(
        tuple(args.symbols), tuple(args.types), args.interval, args.start, args.end, args.quarterlies
    )


def _fetch(args: argparse.Namespace) -> int:
    import sys

    from pmsim.simulator.data.archive import DEFAULT_BASE_URL
    from pmsim.simulator.data.fetch import FetchFailed, fetch_history

    request = fetch_request(args)
    cache = _cache(args)
    try:
        report, built = fetch_history(
            request,
            cache,
            args.base_url or DEFAULT_BASE_URL,
            workers=args.workers,
            progress=sys.stderr.isatty(),
        )
    except FetchFailed as exc:
        report, built = exc.report, {}
        _print_fetch(report, cache, built)
        raise
    _print_fetch(report, cache, built)
    return 0


def _print_fetch(report: Any, cache: Any, built: dict[Any, Any]) -> None:
    print(
        f"downloaded {len(report.downloaded)}, already verified {len(report.skipped)}, "
        f"holes {len(report.holes)}, failed {len(report.failures)}; cache: {cache.root}"
    )
    for hole in report.holes:
        print(f"  hole: {hole}")
    _print_reports(sorted(built.items()))


def _import(args: argparse.Namespace) -> int:
    from pmsim.simulator.data.importer import import_folder

    cache = _cache(args)
    imported = import_folder(args.source, cache)
    _print_reports([(i.key, i.report) for i in imported])
    print(f"imported {len(imported)} series into {cache.root}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from pmsim.simulator.errors import DataError

    cache = _cache(args)
    if args.cache is not None and not cache.root.is_dir():  # a typo or a file is no empty cache
        raise DataError(
            "--cache is not a folder; give the folder `pmsim data import/fetch` wrote", file=cache.root
        )
    if not cache.holds_anything():
        print(f"{cache.root} holds no pmsim cache: try `pmsim data import DIR` or `pmsim data fetch ...`")
        return 0
    with cache.reading():
        series = cache.keys()
        for key in series:
            frame = cache.read(key)
            column = frame.columns[0]
            print(
                f"{str(key):40s} {len(frame):8d} rows  "
                f"{_stamp(frame[column].iloc[0])} .. {_stamp(frame[column].iloc[-1])}"
            )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from pmsim.simulator.data.assemble import open_source
    from pmsim.simulator.data.importer import read_validated
    from pmsim.simulator.errors import DataError

    root = args.source or _cache(args).root
    if not Path(root).exists():
        raise DataError(
            "no series to validate: try `pmsim data import DIR` or `pmsim data fetch ...`", file=root
        )
    with open_source(root) as source:
        validated = read_validated(source)
    _print_reports([(i.key, i.report) for i, _ in validated])
    print(f"{len(validated)} series valid")
    return 0


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--data DIR`` (real history instead of the synthetic market) to a command."""
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help="run on real Binance history from a cache (`pmsim data import/fetch`) or a tidy folder "
        "such as ~/binance-data, instead of the bundled synthetic market",
    )


def market_from_args(args: argparse.Namespace) -> Any:
    """The historical ``Market`` named by ``--data``, or None without it.

    ``--start``/``--end`` are honoured when the command defines them.
    """
    if getattr(args, "data", None) is None:
        return None
    from pmsim.simulator.data.assemble import load_market

    return load_market(args.data, start=getattr(args, "start", None), end=getattr(args, "end", None))
