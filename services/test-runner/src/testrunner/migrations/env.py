from alembic import context

from runtime.migrations import run_env
from testrunner.models import metadata

run_env(context, metadata)
