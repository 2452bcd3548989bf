"""`python -m gateway` serves the API; `python -m gateway migrate` applies its migrations."""

from gateway.app import main

main()
