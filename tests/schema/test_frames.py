"""FrameCache keeps compiled settings out of the cycle collector's sight, and hands them back when it
drops them (a data change), so nothing the cache let go of stays frozen."""

from __future__ import annotations

import gc
import weakref

from ingest.pipeline import run_import
from schema.frames import FrameCache
from tests.conftest import FIXTURES


def test_compiled_settings_are_frozen_and_released_when_the_data_changes(engine):
    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv")
    gc.unfreeze()
    cache = FrameCache(engine, check_seconds=0)
    setting = next(iter(cache.setting_ids()))
    compiled = cache.get(setting)
    assert gc.get_freeze_count() > 0  # frozen after compiling
    assert not any(compiled is o for o in gc.get_objects(generation=2))  # not walked by full collections

    # a cycle that hangs on the old compilation: collectable only once it is unfrozen
    class Holder:
        pass

    holder = Holder()
    holder.me, holder.compiled = holder, compiled
    gc.freeze()
    gone = weakref.ref(holder)
    del holder, compiled

    run_import(engine=engine, format="normdial", path=FIXTURES / "normdial")  # the data version moves on
    cache.get(setting)  # notices the change: unfreezes and collects the old compilations, freezes the new
    assert gone() is None and gc.get_freeze_count() > 0
