"""Environment variables that would steer azure-identity or the bridge's settings away from the simulator.

Whatever runs the bridge against the simulator (tests, the benchmark) removes these first, so a
developer's own Azure variables cannot send a token request or a result somewhere real.
"""

STEERING_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
    "AZURE_FUNCTIONS_ENVIRONMENT",
    "ServiceBusConnection",
    "ServiceBusConnection__clientId",
    "ServiceBusConnection__credential",
    "BOOKINGS_QUEUE",
    "RESULTS_QUEUE",
)
