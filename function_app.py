"""Azure Functions entry point (Python v2 programming model): registers the bridge's blueprint."""

import azure.functions as func

from create_meeting_fn import blueprint

app = func.FunctionApp()
app.register_functions(blueprint)
