"""`python -m compiler` runs the worker; `python -m compiler migrate` applies its migrations."""

from compiler.worker import main

main()
