"""Constants shared by the library and the command line, in a module that imports nothing
(the CLI reads them at start-up, before any heavy import)."""

#: Strategies compared by default (report, `strategies` figure) when the truth is known:
#: fast ones, each a different idea (plain vote, agreement-weighted vote, one-coin and
#: full-confusion Dawid-Skene).
DEFAULT_STRATEGIES: tuple[str, ...] = ("MV", "WAWA", "OneCoinDS", "DS")

#: Help of every verb's --duplicates option.
STRICT_HELP = ("Refuse a peerannot folder whose answers use more classes than metadata.json declares "
               "(by default the classes are extended, with a warning).")

DUPLICATES_HELP = ("Repeated (task, worker) votes: keep (default: every row is a vote, so a worker who voted "
                   "twice counts twice in MV and is two independent answers for DS, GLAD and the other "
                   "models; a one-line warning gives their count), first or last (one vote per pair, the first "
                   "or last row read), error (refuse). An answers.json holds one value per key: there keep "
                   "and error refuse a key written twice, first and last choose the value read.")
