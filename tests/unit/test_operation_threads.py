"""The operation threads: a handler's return value or exception comes back on the loop, off the loop's thread; an
outcome nobody waits for any more is dropped; shutdown ends the idle threads and leaves a busy one to finish."""

from __future__ import annotations

import asyncio
import threading

from ktrdr.workers.threads import OperationThreads


async def test_the_outcome_is_the_return_value_or_the_exception_raised_on_another_thread() -> None:
    threads = OperationThreads(2, "t-op")
    names: list[str] = []

    def ok(x: int) -> int:
        names.append(threading.current_thread().name)
        return x * 2

    def boom(_: None) -> None:
        raise KeyError("missing")

    assert await threads.submit(ok, 21) == 42
    outcome = await threads.submit(boom, None)
    assert isinstance(outcome, KeyError) and outcome.args == ("missing",)
    assert names and names[0].startswith("t-op_") and names[0] != threading.current_thread().name
    threads.shutdown()


async def test_a_late_outcome_after_the_operation_was_given_up_is_dropped() -> None:
    threads = OperationThreads(1, "t-op")
    errors: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    release = threading.Event()
    fut = threads.submit(lambda _: release.wait(5) and "late", None)
    fut.set_result("abandoned")  # what the grace period does to an operation that ignores its cancel
    release.set()
    assert await threads.submit(lambda _: "next", None) == "next"  # the thread finished the first one, quietly
    assert fut.result() == "abandoned" and not errors
    threads.shutdown()


async def test_shutdown_ends_idle_threads_and_a_busy_one_after_its_operation() -> None:
    threads = OperationThreads(3, "t-op")
    release = threading.Event()
    busy = threads.submit(lambda _: release.wait(5), None)
    await asyncio.sleep(0.05)
    threads.shutdown()
    for _ in range(100):
        if sum(t.is_alive() for t in threads._threads) == 1:
            break
        await asyncio.sleep(0.01)
    assert sum(t.is_alive() for t in threads._threads) == 1, "the idle threads did not end"
    release.set()
    assert await busy is True
    for t in threads._threads:
        t.join(2)
    assert not any(t.is_alive() for t in threads._threads)
    assert all(t.daemon for t in threads._threads), "an abandoned operation must not hold the process at exit"
