"""`python -m testrunner` runs the worker; `python -m testrunner migrate` applies its migrations."""

from testrunner.worker import main

main()
