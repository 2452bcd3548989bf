"""`python -m publisher` runs the worker; `python -m publisher migrate` applies its migrations."""

from publisher.worker import main

main()
