"""`held_alone`: one holder at a time across every process sharing the database, freed when its holder dies."""

import subprocess
import sys
import time

from consentry.sdk.store.engine import held_alone
from tests.processes import stop_group

HOLDER = """
import sys, time
from consentry.sdk.store import make_engine
from consentry.sdk.store.engine import held_alone
with held_alone(make_engine(sys.argv[1]), "reconcile") as mine:
    print("held" if mine else "refused", flush=True)
    time.sleep(120)
"""


def test_a_second_holder_is_refused_until_the_first_lets_go(engine):
    with (
        held_alone(engine, "reconcile") as first,
        held_alone(engine, "reconcile") as second,
        held_alone(engine, "another") as other,
    ):
        assert (first, second, other) == (True, False, True)
    with held_alone(engine, "reconcile") as again:
        assert again


def test_a_holder_in_another_process_is_seen_and_its_death_frees_the_lock(engine, database_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with held_alone(engine, "reconcile") as mine:
            assert not mine
        holder.kill()
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10  # PostgreSQL ends the dead holder's session when it sees the socket close
        while True:
            with held_alone(engine, "reconcile") as mine:
                if mine or time.monotonic() > deadline:
                    break
            time.sleep(0.05)
        assert mine
    finally:
        stop_group(holder, timeout=5)
        holder.stdout.close()
