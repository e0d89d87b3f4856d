"""Azure Functions entry point (Python v2 programming model): registers the bridge's blueprint.

The bridge's imports run with the cyclic garbage collector paused, then everything they made is
frozen (gc.freeze): module-level objects live as long as the process, so collecting them while they
are built (about 15% of the imports' CPU, docs/performance.md) and traversing them again on every
later full collection is work with nothing to find. The price: the few hundred objects the imports
drop in cycles (discarded classes and functions, under 0.5 MiB) are frozen too, once per process,
where a collection to find them first would cost more start-up time than they weigh.
"""

import gc

_collecting = gc.isenabled()
gc.disable()
try:
    import azure.functions as func

    from create_meeting_fn import blueprint
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

app = func.FunctionApp()
app.register_functions(blueprint)
