"""Azure Functions entry point (Python v2 programming model): registers the bridge's blueprint.

The bridge's imports run with the cyclic garbage collector paused, then everything they made is
frozen (gc.freeze): module-level objects live as long as the process, so collecting them while they
are built (about 15% of the imports' CPU, docs/performance.md) and traversing them again on every
later full collection is work with nothing to find.
"""

import gc

gc.disable()
try:
    import azure.functions as func

    from create_meeting_fn import blueprint
finally:
    gc.freeze()
    gc.enable()

app = func.FunctionApp()
app.register_functions(blueprint)
