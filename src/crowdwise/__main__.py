"""``python -m crowdwise``: the ``crowdwise`` command."""

from crowdwise.cli.main import main

if __name__ == "__main__":  # pragma: no cover - run as a program
    main()
