"""`python -m daogou ...` is the `daogou` command (see `daogou --help`)."""

from daogou.app.cli import main

if __name__ == "__main__":
    main()
