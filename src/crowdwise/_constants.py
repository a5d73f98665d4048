"""Constants shared by the library and the command line, in a module that imports nothing
(the CLI reads them at start-up, before any heavy import)."""

#: Strategies compared by default (report, `strategies` figure) when the truth is known:
#: fast ones, each a different idea (plain vote, agreement-weighted vote, one-coin and
#: full-confusion Dawid-Skene).
DEFAULT_STRATEGIES: tuple[str, ...] = ("MV", "WAWA", "OneCoinDS", "DS")
