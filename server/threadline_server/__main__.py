"""``python -m threadline_server serve``."""

from threadline_server.cli import main

main()
